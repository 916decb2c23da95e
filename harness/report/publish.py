"""Writing a merged report out: report.json for machines, index.html (with its companions) for people.

Why one function: the end of a run, `harness report` (a killed run's parts) and `harness report
--merge` (shards) must leave the same files, written the same way, for the gate to read.
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.files import write_atomic
from harness.report.html import write_html
from harness.report.schema import Report


def publish(report: Report, report_dir: Path) -> None:
    """report.json (sorted keys, so two runs diff line by line) and index.html under `report_dir`;
    each replaced atomically, report.json first."""
    write_atomic(report_dir / "report.json", json.dumps(report, indent=1, sort_keys=True))
    write_html(report, report_dir / "index.html")
