"""Human-facing output: the self-contained HTML page and the plain-text findings table."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from .coverage import untested
from .results import write_atomic
from .spec import CHECKS

_ENV = Environment(loader=PackageLoader("harness", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True)
_SEVERITY = {"match": 0, "documented": 1, "undocumented": 2}


def matrix(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of API x target, each with a cell per check: status, counts, finding ids."""
    by_target: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for f in report["findings"]:
        by_target[(f["api"], f["target"])].append(f)
    rows = []
    for t in report["targets"]:
        cells = []
        for check in CHECKS:
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
                     "seconds": t.get("seconds")})
    return rows


def write_html(report: dict[str, Any], path: Path) -> None:
    html = _ENV.get_template("report.html.j2").render(
        r=report, rows=matrix(report), checks=CHECKS,
        frameworks=sorted({t["framework"] for t in report["targets"]}),
        apis=sorted({t["api"] for t in report["targets"]}),
        findings=sorted(report["findings"], key=lambda f: (f["documented"], f["api"], f["target"], f["check"], f["id"])),
        dumps=lambda v: json.dumps(v, sort_keys=True, default=str, separators=(", ", ": ")), untested=untested)
    write_atomic(path, html)


def coverage_lines(report: dict[str, Any]) -> list[str]:
    """Per spec: branch sides reached / total, and every untested one by name."""
    out = []
    for api, cov in report.get("coverage", {}).items():
        gaps = untested(cov)
        grad = cov.get("gradients", {})
        grad_text = f"; gradients: skipped ({grad['skipped']})" if grad.get("skipped") else (
            f"; gradients: {grad.get('cases', 0)} cases, kinks {grad.get('kinks', {})}" if grad else "")
        out.append(f"coverage {api}: {cov['reached']}/{cov['total']} branch sides reached{grad_text}")
        out += [f"  untested: {g}" for g in gaps]
    total = report.get("summary", {}).get("coverage")
    if total and total["total"]:
        out.append(f"coverage overall: {total['reached']}/{total['total']} ({100 * total['reached'] / total['total']:.0f}%)")
    return out


def text_table(report: dict[str, Any]) -> str:
    """The findings as a fixed-width table, undocumented first."""
    rows = [("api", "target", "check", "verdict", "documented", "cases", "id")]
    for f in sorted(report["findings"], key=lambda f: (f["documented"], f["api"], f["target"], f["check"])):
        rows.append((f["api"], f["target"], f["check"], f["verdict"], "yes" if f["documented"] else "NO",
                     str(f["count"]), f["id"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    s = report["summary"]
    lines.append(f"{s['findings']} findings ({s['undocumented']} undocumented, {s['documented']} documented) "
                 f"over {s['targets']} targets and {s['cases']} verdicts")
    lines += coverage_lines(report)
    for m in report.get("missing", []):
        lines.append(f"missing: {m['framework']} has no counterpart of {m['api']} ({m['source']})")
    for e in report.get("spec_errors", []):
        lines.append(f"bad spec: {e['file']}:{e['line']}: {e['message']} (fix: {e['fix']})")
    return "\n".join(lines)
