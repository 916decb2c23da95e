"""Human-facing output: the self-contained HTML page (with its reproducers and Markdown tables
beside it) and the plain-text findings table."""
from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from harness.checks import registry
from harness.files import write_atomic
from harness.judge import causes
from harness.judge.classes import CLASSES, DESCRIPTIONS
from harness.judge.coverage import untested
from harness.report import mathml, plots
from harness.report import scripts as repro
from harness.report import tables as apitable
from harness.report.schema import ApiEntry, CauseEntry, FindingEntry, Report
from harness.run.frameworks import registry as frameworks

_ENV = Environment(loader=PackageLoader("harness.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True)
_SEVERITY = {"match": 0, "documented": 1, "undocumented": 2}


def matrix(report: Report) -> list[dict[str, Any]]:
    """Rows of API x target, each with a cell per check: status, counts, finding ids."""
    by_target: dict[tuple[str, str], list[FindingEntry]] = defaultdict(list)
    for f in report["findings"]:
        by_target[(f["api"], f["target"])].append(f)
    rows = []
    for t in report["targets"]:
        cells = []
        for check in registry.names():
            counts = t["counts"].get(check, {})
            found = [f for f in by_target[(t["api"], t["target"])] if f["check"] == check]
            status = "error" if t.get("error") else ("none" if not counts else "match")
            if found:
                status = "undocumented" if any(not f["documented"] for f in found) else "documented"
            cells.append({"check": check, "status": status, "cases": sum(counts.values()),
                          "mismatches": sum(n for v, n in counts.items() if v != "match"),
                          "findings": [f["id"] for f in found],
                          "undocumented": sum(1 for f in found if not f["documented"])})
        rows.append({"api": t["api"], "title": t.get("title", t["api"]), "framework": t["framework"],
                     "target": t["target"], "kind": t["kind"], "cells": cells, "error": t.get("error"),
                     "not_run": t.get("notes", {}).get("budget"),
                     "seconds": t.get("seconds")})
    return rows


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def headline(f: FindingEntry) -> str:
    """One sentence: what this finding is (its diagnosis, where it has one)."""
    diagnosis = f["diagnosis"]["text"] if f.get("diagnosis") else None
    if diagnosis:
        return diagnosis
    m, exp, act = f.get("metrics") or {}, f.get("expected") or {}, f.get("actual") or {}
    v = f["verdict"]
    if v == "value" and m:
        basis = "its own documented formula" if f.get("peer_verdict") == "match" else "the reference"
        return (f"{m.get('mismatched')} of {m.get('total')} elements differ from {basis}: max abs error "
                f"{_num(m.get('max_abs'))}, max rel {_num(m.get('max_rel'))}")
    if v == "value" and "default" in exp:
        return f.get("message") or "documented default differs"
    if v == "unexpected-error":
        return f"raises {act.get('error')} where a value was expected: {_first_line(act.get('message'))}"
    if v == "missing-error":
        return f"returns a value where the docs say it raises {exp.get('error')}"
    if v == "wrong-error":
        return f"raises {act.get('error')}, documented {exp.get('error')}: {_first_line(act.get('message'))}"
    if v == "shape" and isinstance(exp.get("value"), dict) and isinstance(act.get("value"), dict):
        return f"output shape {act['value'].get('shape')}, expected {exp['value'].get('shape')}"
    if v in ("crash", "timeout"):
        return f"the worker process {'died' if v == 'crash' else 'stopped answering'} on this case"
    return (f.get("message") or v)[:200]


def _first_line(text: str | None, n: int = 110) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= n else line[: n - 1] + "…"


def where(f: FindingEntry, n: int = 3) -> list[str]:
    """The few region facts that narrow a finding most (fewest values), for one-line summaries."""
    items = [(len(v), k, v) for k, v in (f.get("region") or {}).items() if k not in ("values",) or v != ["finite"]]
    return [f"{k}={'|'.join(v)}" for _, k, v in sorted(items)[:n]]


def _flat(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        out: list[Any] = []
        for x in value:
            sub = _flat(x)
            if sub is None:
                return None
            out += sub
        return out
    return [value]


def _indices(shape: list[int]) -> list[list[int]]:
    out: list[list[int]] = [[]]
    for n in shape:
        out = [i + [k] for i in out for k in range(n)]
    return out


def elements(f: FindingEntry) -> list[dict[str, Any]] | None:
    """Expected and actual element by element (small arrays of one shape), the differing ones marked."""
    e = (f.get("expected") or {}).get("value")
    a = (f.get("actual") or {}).get("value")
    if not (isinstance(e, dict) and isinstance(a, dict) and "values" in e and "values" in a and e["shape"] == a["shape"]):
        return None
    ev, av = _flat(e["values"]), _flat(a["values"])
    if ev is None or av is None or len(ev) != len(av) or not ev:
        return None
    marked = {tuple(i) for i in (f.get("metrics") or {}).get("differs_at", [])}
    return [{"index": idx, "expected": x, "actual": y, "differs": tuple(idx) in marked}
            for idx, x, y in zip(_indices(e["shape"]), ev, av)]


def _source_link(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def _plots(report: Report) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, api in report.get("apis", {}).items():
        targets = [t for t in report["targets"] if t["api"] == name]
        if api.get("plots") and targets:
            out[name] = plots.render(api, cast("list[dict[str, Any]]", targets))
    return out


def formulas(api: ApiEntry) -> list[dict[str, Any]]:
    """The common formula, and each framework's own documented one where it differs."""
    out = [{"who": "common (spec)", "math": Markup(mathml.formula(api["formula"])), "source": api["formula"]}]
    seen = set()
    for fw, data in api["frameworks"].items():
        for b in data.get("bindings", []):
            if b["formula"] and b["formula"] not in seen:
                seen.add(b["formula"])
                out.append({"who": f"{fw}'s documentation", "math": Markup(mathml.formula(b["formula"])),
                            "source": b["formula"], "docs": b["docs"]})
    return out


def write_html(report: Report, path: Path) -> float:
    """index.html and its companions next to it: reproducers under repro/, Markdown tables under
    differences/. Returns the seconds it took."""
    started = time.perf_counter()
    plain = cast("dict[str, Any]", report)  # scripts and tables read the report as plain dicts
    repros = repro.write_all(plain, path.parent / "repro")
    apis = {k: v for k, v in report.get("apis", {}).items() if any(t["api"] == k for t in report["targets"])}
    shown: Report = {**report, "apis": apis}
    tables = apitable.tables(cast("dict[str, Any]", shown))
    apitable.write_markdown(cast("dict[str, Any]", shown), path.parent / "differences", tables)
    rank = frameworks.rank
    findings = sorted(report["findings"], key=lambda f: (f["documented"], f["api"], rank(f["framework"]),
                                                          f["target"], f["check"], f["id"]))
    rows = sorted(matrix(report), key=lambda r: (r["api"], rank(r["framework"]), r["target"]))
    titles = {t["api"]: t.get("title", t["api"]) for t in report["targets"]}
    found = report_causes(report)
    html = _ENV.get_template("report.html.j2").render(
        r=report, rows=rows, checks=registry.names(), where=where, by_id={f["id"]: f for f in findings},
        versions=sorted(report.get("frameworks", {}).items(), key=lambda kv: (rank(kv[0]), kv[0])),
        frameworks=[f for f in frameworks.names() if any(t["framework"] == f for t in report["targets"])]
        + sorted({t["framework"] for t in report["targets"]} - set(frameworks.names())),
        apis=sorted({t["api"] for t in report["targets"]}), titles=titles,
        api_info=apis, tables={t["api"]: t for t in tables}, plots=_plots(shown),
        formulas={k: formulas(v) for k, v in apis.items()},
        findings=findings, causes=found, cause_of={i: c for c in found for i in c["findings"] + c.get("explains", [])},
        classes=CLASSES, class_text=DESCRIPTIONS, class_of=causes.class_of,
        repros=repros, headline=headline, elements=elements, source_link=_source_link,
        started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report["started"])) if report.get("started") else None,
        dumps=lambda v: json.dumps(v, sort_keys=True, default=str, separators=(", ", ": ")),
        short=lambda v: _short_value(v), isnum=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        untested=untested, known_frameworks=frameworks.FRAMEWORKS)
    write_atomic(path, html)
    return time.perf_counter() - started


def _short_value(v: Any) -> str:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    return json.dumps(v) if not isinstance(v, str) else v


def coverage_lines(report: Report) -> list[str]:
    """Per spec: branch sides reached / total, and every untested one by name."""
    out = []
    for api, cov in report.get("coverage", {}).items():
        gaps = untested(cast("dict[str, Any]", cov))
        grad = cov.get("gradients", {})
        grad_text = f"; gradients: skipped ({grad['skipped']})" if grad.get("skipped") else (
            f"; gradients: {grad.get('cases', 0)} cases, kinks {grad.get('kinks', {})}" if grad else "")
        pairs = cov.get("pairs")
        pair_text = f"; feature pairs: {pairs['reached']}/{pairs['demanded']}" if pairs else ""
        out.append(f"coverage {api}: {cov['reached']}/{cov['total']} branch sides reached{grad_text}{pair_text}")
        out += [f"  untested: {g}" for g in gaps]
    total = report.get("summary", {}).get("coverage")
    if total and total["total"]:
        out.append(f"coverage overall: {total['reached']}/{total['total']} ({100 * total['reached'] / total['total']:.0f}%)")
    return out


def report_causes(report: Report) -> list[CauseEntry]:
    """The report's causes; computed from its findings for a report written before causes were."""
    if "causes" in report:
        return report["causes"]
    return cast("list[CauseEntry]", causes.of(report.get("findings", [])))


def text_table(report: Report, width: int = 90) -> str:
    """The causes as a fixed-width table, most severe first, undocumented before documented: one row per cause
    (its findings are in report.json and the HTML)."""
    found = report_causes(report)
    rows = [("class", "api", "framework", "check", "documented", "findings", "cause", "diagnosis")]
    for c in found:
        rows.append((c["class"], c["api"], ",".join(c["frameworks"]), c["check"], "yes" if c["documented"] else "NO",
                     str(len(c["findings"]) + len(c.get("explains", []))), c["id"], _first_line(c["diagnosis"], width)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    s = report["summary"]
    undocumented = [c for c in found if not c["documented"]]
    lines.append(f"{len(found)} causes ({len(undocumented)} undocumented) of {s['findings']} findings "
                 f"({s['undocumented']} undocumented, {s['documented']} documented) "
                 f"over {s['targets']} targets and {s['cases']} verdicts")
    per_class = s.get("classes") or {}
    if any(per_class.values()):
        lines.append("undocumented findings by class: " + ", ".join(f"{k} {n}" for k, n in per_class.items() if n))
    lines += coverage_lines(report)
    for t in report.get("targets", []):
        if t.get("notes", {}).get("budget"):
            lines.append(f"not run in {t['target']} ({t['api']}): {t['notes']['budget']}")
    for m in report.get("missing", []):
        lines.append(f"missing: {m['framework']} has no counterpart of {m['api']} ({m['source']})")
    for e in report.get("spec_errors", []):
        lines.append(f"bad spec: {e['file']}:{e['line']}: {e['message']} (fix: {e['fix']})")
    if report.get("incomplete"):
        lines.append("INCOMPLETE: the run did not finish (killed or interrupted); only the bindings finished by then")
    return "\n".join(lines)
