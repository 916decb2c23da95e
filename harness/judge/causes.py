"""Root causes: the merged findings of a run that share one behaviour, as one entry each.

Why: one kernel misbehaving shows as many findings (its class and functional bindings, each dtype
and region, and again as gradient findings); a maintainer fixes a cause, not a finding. Causes are
computed from the findings of report.json alone (plain dicts), so they come out the same for an
unsharded run, xdist workers and merged shards. Finding ids are untouched: the gate keeps them.

Rules:
- findings of one api and framework with the same check, class, diagnosis rule and documentation
  status are one cause, whatever their binding (class or function), dtype or region;
- a gradient cause of wrong values is explained by a values cause (wrong value or precision) of
  the same api, framework and documentation status on overlapping regions, and joins it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from harness.judge.classes import classify, severity

VALUE_CLASSES = ("wrong-value", "precision")


def class_of(f: Mapping[str, Any]) -> str:
    """A finding's class (computed again from its verdict for findings of reports written before classes)."""
    return str(f.get("class") or classify(f["verdict"], f["check"], f.get("silent") or ""))


def rule_of(f: Mapping[str, Any]) -> str:
    d = f.get("diagnosis") or {}
    return str(d.get("rule") or f["verdict"])


def cause_id(api: str, frameworks: Iterable[str], check: str, klass: str, rule: str, documented: bool) -> str:
    """Stable across seeds and shards: made of what the cause is, never of which findings it holds."""
    key = "|".join([api, ",".join(sorted(frameworks)), check, klass, rule, "documented" if documented else "undocumented"])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _lead(findings: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The finding that shows the cause best: one with a reproducer, from the fixed cases, with the most cases."""
    return min(findings, key=lambda f: (not f.get("repro"), bool(f.get("explored")), -int(f.get("count") or 0), f["id"]))


def _overlap(a: Mapping[str, list[str]], b: Mapping[str, list[str]]) -> bool:
    """Two regions that can hold on the same cases: every key they share has a value in common."""
    return all(set(a[k]) & set(b[k]) for k in set(a) & set(b) if k in ("values", "variant") or k.startswith("dtype("))


def of(findings: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The causes of a run's findings, most severe first (undocumented before documented)."""
    groups: dict[tuple[str, str, str, str, str, bool], list[Mapping[str, Any]]] = {}
    for f in findings:
        key = (f["api"], f["framework"], f["check"], class_of(f), rule_of(f), bool(f.get("documented")))
        groups.setdefault(key, []).append(f)
    explained: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for key, members in groups.items():
        api, fw, check, klass, _rule, documented = key
        if check != "gradients" or klass not in VALUE_CLASSES:
            continue
        for other, values in sorted(groups.items(), key=lambda kv: (severity(kv[0][3]), -len(kv[1]))):
            if other[:2] == (api, fw) and other[2] == "values" and other[3] in VALUE_CLASSES and other[5] == documented \
                    and any(_overlap(g.get("region") or {}, v.get("region") or {}) for g in members for v in values):
                explained[key] = other
                break
    out = []
    for key, members in groups.items():
        if key in explained:
            continue
        api, fw, check, klass, rule, documented = key
        joined = [(k, m) for k, m in groups.items() if explained.get(k) == key]
        covered = members + [f for _k, m in joined for f in m]
        lead = _lead(members)
        out.append({
            "id": cause_id(api, [fw], check, klass, rule, documented),
            "class": klass,
            "severity": severity(klass),
            "api": api,
            "frameworks": [fw],
            "check": check,
            "rule": rule,
            "diagnosis": str((lead.get("diagnosis") or {}).get("text") or lead.get("message") or lead["verdict"]),
            "documented": documented,
            "explored": all(bool(f.get("explored")) for f in covered),
            "findings": [f["id"] for f in sorted(members, key=lambda f: (f["target"], f["id"]))],
            "explains": [f["id"] for f in sorted((f for _k, m in joined for f in m), key=lambda f: (f["target"], f["id"]))],
            "targets": sorted({f["target"] for f in covered}),
            "cases": sum(int(f.get("count") or 0) for f in covered),
            "lead": lead["id"],
            "repro": f"repro/{lead['id']}.py" if lead.get("repro") else None,
        })
    return sorted(out, key=lambda c: (c["documented"], c["severity"], c["api"], c["frameworks"], c["check"], c["id"]))
