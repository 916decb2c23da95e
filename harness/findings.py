"""Findings: verdicts of one binding grouped into distinct discrepancies with stable ids.

A finding names a discrepancy, not the numbers that revealed it: its id hashes the api, target,
check, verdict, whether it is documented, and its region (the case features all its cases share
and that not every case of that check had), never the drawn values.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import dtypes
from .case import Case
from .judge import Verdict

PARTITION = ("values", "variant")  # features that split findings of the values check: separate causes


def features(case: Optional[Case]) -> dict[str, str]:
    """Coarse, value-free facts about a case: what a finding's region is made of."""
    if case is None:
        return {}
    out: dict[str, str] = {"variant": str(case.variant)} if case.variant else {}
    nonfinite = False
    for name, a in case.arrays.items():
        if a is None:
            out[f"{name}"] = "absent"
            continue
        out[f"dtype({name})"] = dtypes.name(a)
        if dtypes.is_float(dtypes.name(a)) and a.size:
            nonfinite |= bool(~np.isfinite(dtypes.to_float64(a)).all())
    first = next((a for a in case.arrays.values() if a is not None), None)
    if first is not None:
        out["shape"] = "empty" if first.size == 0 else ("0-d" if first.ndim == 0 else ("large" if first.size > 1000 else f"{first.ndim}-d"))
    out["values"] = "non-finite" if nonfinite else "finite"
    for name, v in case.params.items():
        if name in case.omit:
            out[name] = "omitted"
        elif isinstance(v, bool) or v is None or isinstance(v, str):
            out[name] = repr(v)
        elif isinstance(v, (int, float)):
            out[name] = "0" if v == 0 else ("<0" if v < 0 else (">0"))
    if case.origin == "invalid":
        out["probe"] = case.note.split("=")[0].split(" ")[0]
    return out


@dataclass
class Finding:
    id: str
    verdicts: list[Verdict]
    region: dict[str, list[str]]
    minimal: Verdict
    shrunk: bool = False

    @property
    def head(self) -> Verdict:
        return self.minimal


def finding_id(api: str, target: str, check: str, verdict: str, documented: bool, region: dict[str, list[str]]) -> str:
    key = "|".join([api, target, check, verdict, str(documented)] + [f"{k}={','.join(v)}" for k, v in sorted(region.items())])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def group(verdicts: list[Verdict], observed: dict[str, dict[str, set[str]]]) -> list[Finding]:
    """Non-match verdicts of one binding -> findings. `observed[check][feature]` = values seen in all cases."""
    buckets: dict[tuple[Any, ...], list[Verdict]] = defaultdict(list)
    for v in verdicts:
        if v.is_match:
            continue
        f = features(v.case)
        split = PARTITION if v.check in ("values", "gradients") else ("variant",)  # non-finite inputs matter for numbers only
        key = (v.check, v.verdict, v.documented, v.source, v.why, v.metrics.get("wrt", "")) + tuple(f.get(p, "") for p in split)
        buckets[key].append(v)
    out = []
    for (check, verdict, documented, *_), members in buckets.items():
        region = _region([features(v.case) for v in members], observed.get(check, {}))
        if members[0].metrics.get("wrt"):  # gradients: the input differentiated is part of what the finding is
            region["wrt"] = [str(members[0].metrics["wrt"])]
        b = members[0].binding
        minimal = min(members, key=_simplicity)
        out.append(Finding(finding_id(b.spec.api, b.target, check, verdict, documented, region), members, region, minimal))
    return sorted(out, key=lambda f: (f.head.check, f.head.verdict, f.id))


def _region(member_features: list[dict[str, str]], observed: dict[str, set[str]]) -> dict[str, list[str]]:
    region: dict[str, list[str]] = {}
    keys = set().union(*member_features) if member_features else set()
    for k in sorted(keys):
        values = {f.get(k, "-") for f in member_features}
        if k == "variant" or values != observed.get(k, values | {"*"}):
            region[k] = sorted(values)
    return region


def _simplicity(v: Verdict) -> tuple[int, int, str]:
    case = v.case
    if case is None:
        return (0, 0, "")
    return (case.size, sum(1 for x in case.params.values() if x not in (None, 0, 0.0)), case.fingerprint())


def observe(cases_by_check: dict[str, list[Case]]) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for check, cases in cases_by_check.items():
        seen: dict[str, set[str]] = defaultdict(set)
        for c in cases:
            for k, val in features(c).items():
                seen[k].add(val)
        out[check] = dict(seen)
    return out
