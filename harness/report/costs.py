"""Where a run's time went, from report.json's `targets[].costs`: the benchmark's conformance story.

Why: a run's wall time says nothing about what to fix. Set beside its floor (the framework's own time
for the same calls, plus one import per framework) and split per binding into calls, restarts,
waiting on deadlines, references, shrinking and locating findings (beyond their calls) and the rest (judging,
the pipe), it says whether the
harness or the frameworks cost the time, and which bindings.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.run.pipeline import COUNTED_SECONDS

PARTS = (*COUNTED_SECONDS, "shrink_seconds", "locate_seconds")
TOTALS = ("restarts", "timeouts", "restart_seconds", "waited_seconds", "shrink_seconds", "locate_seconds")
"""What the story sums over every binding (the slowest ones are shown whole)."""


def story(targets: Sequence[Mapping[str, Any]], wall: float, imports: Mapping[str, float], slowest: int = 10) -> dict[str, Any]:
    """The run's wall time, its floor, totals of restarts and timeouts, and its `slowest` bindings split by cost."""
    rows = []
    for t in targets:
        costs = t.get("costs") or {}
        seconds = float(t.get("seconds") or 0.0)
        row = {"target": t["target"], "api": t["api"], "seconds": seconds, "restarts": int(costs.get("restarts", 0)),
               "timeouts": int(costs.get("timeouts", 0)), **{k: float(costs.get(k, 0.0)) for k in PARTS}}
        # judging, the pipe, and for the first binding of a framework its worker's start
        row["other_seconds"] = max(0.0, seconds - sum(row[k] for k in PARTS))
        rows.append(row)
    rows.sort(key=lambda r: -r["seconds"])
    calls = sum(r["call_seconds"] for r in rows)
    return {"wall_seconds": wall, "floor_seconds": calls + sum(imports.values()), "call_seconds": calls,
            "import_seconds": dict(imports), "bindings": len(rows), "binding_seconds": sum(r["seconds"] for r in rows),
            **{k: sum(r[k] for r in rows) for k in TOTALS}, "slowest": rows[:slowest]}


def lines(s: Mapping[str, Any]) -> list[str]:
    """The story as the benchmark prints it."""
    out = [f"wall {s['wall_seconds']:.1f} s, floor {s['floor_seconds']:.1f} s (framework calls {s['call_seconds']:.1f} s "
           f"+ imports {sum(s['import_seconds'].values()):.1f} s); {s['bindings']} bindings took {s['binding_seconds']:.1f} s"]
    if s["binding_seconds"] > s["wall_seconds"]:
        out.append("bindings ran side by side (lanes): their seconds overlap, and a call timed while others ran on the same "
                   "cores took longer than alone, so the floor here is no lower bound on the wall time")
    out += [f"restarts {s['restarts']} ({s['restart_seconds']:.1f} s waiting for a replacement), "
            f"timeouts {s['timeouts']} ({s['waited_seconds']:.1f} s waiting on deadlines)",
            f"shrinking {s['shrink_seconds']:.1f} s, locating {s['locate_seconds']:.1f} s (the harness's "
            "own, beyond their calls, summed over bindings)",
            f"{'slowest bindings':40s} {'total s':>8s} {'calls s':>8s} {'restarts':>12s} {'deadlines':>12s} "
            f"{'ref s':>6s} {'shrink s':>8s} {'locate s':>8s} {'other s':>8s}"]
    for r in s["slowest"]:
        out.append(f"{r['target']:40s} {r['seconds']:8.1f} {r['call_seconds']:8.2f} "
                   f"{r['restarts']:4d} {r['restart_seconds']:6.1f} s {r['timeouts']:4d} {r['waited_seconds']:6.1f} s "
                   f"{r['reference_seconds']:6.2f} {r['shrink_seconds']:8.1f} {r['locate_seconds']:8.1f} "
                   f"{r['other_seconds']:8.1f}")
    return out
