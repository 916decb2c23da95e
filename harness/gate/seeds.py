"""The gate across seeds: what each run of the same frameworks changed against the baselines.

The property the gate must have is that it passes at rest, whatever the seed: an id changes only
when behaviour does. `nox -s stability -- --runs N` runs N seeds and this module counts, per
framework, the findings that appeared (new), disappeared (fixed), moved, flipped and changed in
each run, so a regression of that property shows as a number, not as a red CI run to puzzle over.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.gate.baselines import Entry
from harness.gate.delta import FINDINGS, HARNESS_ERROR, OK, Delta
from harness.report.schema import Report

KINDS = ("new", "fixed", "moved", "flipped", "changed", "explored")
"""What a run can show against the baselines; `new` and `changed` fail the gate."""


@dataclass
class Row:
    """One framework over all runs: per kind, the count in each run, and the ids seen."""

    framework: str
    counts: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in KINDS})
    ids: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})


def _framework_of(report: Report) -> dict[str, str]:
    return {t["target"]: t["framework"] for t in report.get("targets", [])}


def _entries(d: Delta, kind: str) -> list[Entry]:
    if kind in ("moved", "flipped", "changed"):
        return [new for _, new in getattr(d, kind)]
    return list(getattr(d, kind))


def summarize(runs: list[tuple[str, Report, Delta]]) -> tuple[list[Row], list[dict[str, Any]]]:
    """Per framework rows, and per run its label, seed and gate exit status."""
    frameworks = sorted({fw for _, report, _ in runs for fw in report.get("frameworks", {})})
    rows = {fw: Row(fw) for fw in frameworks}
    per_run = []
    for label, report, d in runs:
        owner = _framework_of(report)
        for kind in KINDS:
            found = _entries(d, kind)
            for fw, row in rows.items():
                mine = [e for e in found if owner.get(e.target) == fw]
                row.counts[kind].append(len(mine))
                row.ids[kind] |= {e.id for e in mine}
        per_run.append({"run": label, "seed": report.get("seed"), "exit_code": d.exit_code,
                        "new": len(d.new), "changed": len(d.changed), "errors": d.errors})
    return list(rows.values()), per_run


def exit_code(per_run: list[dict[str, Any]]) -> int:
    codes = {r["exit_code"] for r in per_run}
    return HARNESS_ERROR if HARNESS_ERROR in codes or not per_run else (FINDINGS if FINDINGS in codes else OK)


def text(rows: list[Row], per_run: list[dict[str, Any]]) -> str:
    lines = [f"{len(per_run)} run(s) against the baselines; per framework, total over the runs (distinct ids):",
             f"  {'framework':<10} " + " ".join(f"{k:>14}" for k in KINDS)]
    for row in rows:
        cells = [f"{sum(row.counts[k])} ({len(row.ids[k])})" for k in KINDS]
        lines.append(f"  {row.framework:<10} " + " ".join(f"{c:>14}" for c in cells))
    lines.append("per run:")
    for r in per_run:
        status = {OK: "PASS", FINDINGS: "FAIL", HARNESS_ERROR: "ERROR"}[r["exit_code"]]
        lines.append(f"  {r['run']} (seed {r['seed']}): {status}, {r['new']} new, {r['changed']} changed"
                     + "".join(f"; {e}" for e in r["errors"]))
    code = exit_code(per_run)
    lines.append({OK: "PASS: every run passed the gate at rest", FINDINGS: "FAIL: some run found new or changed findings",
                  HARNESS_ERROR: "ERROR: some run could not run everything"}[code] + f" (exit {code})")
    return "\n".join(lines)


def to_json(rows: list[Row], per_run: list[dict[str, Any]]) -> dict[str, Any]:
    return {"exit_code": exit_code(per_run), "runs": per_run,
            "frameworks": {r.framework: {k: {"per_run": r.counts[k], "distinct": sorted(r.ids[k])} for k in KINDS}
                           for r in rows}}
