"""Accepted findings' minimal cases, checked in under `cases/regressions/` and replayed by every run.

Why: which discrepancies a run finds depends on the cases its seed draws. Replaying the case that
showed each accepted finding means every baselined finding is found again, from the same case
(so with the same region and id), whatever the seed; the drawn cases then only add new ones.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from harness.files import write_atomic
from harness.report.schema import Report

HEADER = ("# Minimal cases of accepted findings (one per finding id), replayed by every run so each is\n"
          "# found again whatever the seed. Written by `harness baseline update`; format: harness/examples.py.\n")


def write(report: Report, cases_dir: Path) -> list[Path]:
    """Replace the replayed cases of the frameworks this report ran; keep the others'."""
    ran = set(report.get("frameworks", {}))
    fresh: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in report.get("findings", []):
        replay = f.get("replay")
        if replay:
            fresh[f["api"]].append(replay)
    directory = cases_dir / "regressions"
    apis = set(fresh) | {p.stem for p in directory.glob("*.yaml")}
    written = []
    for api in sorted(apis):
        path = directory / f"{api}.yaml"
        kept = []
        if path.exists():
            old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            kept = [c for c in old.get("cases", []) if c["targets"][0].split(".")[0] not in ran]
        cases = sorted(kept + fresh.get(api, []), key=lambda c: (c["targets"][0], c["name"]))
        if not cases:
            path.unlink(missing_ok=True)
            continue
        text = yaml.safe_dump({"api": api, "cases": cases}, sort_keys=False, default_flow_style=None, width=120)
        write_atomic(path, HEADER + text)
        written.append(path)
    return written
