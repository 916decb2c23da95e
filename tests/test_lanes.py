"""Lanes: a run in one process runs each spec's bindings side by side, each with worker processes of its own.
What each process is sent, and in which order, is fixed by its lane's binding, so the report is the one a run
binding after binding gives (real torch and paddle, which do not depend on what their process ran before)."""
import json
import subprocess
import sys
from pathlib import Path

from harness.report.results import strip_timings

from .conftest import need

ROOT = Path(__file__).resolve().parent.parent
SPECS = [str(ROOT / "specs" / "losses" / f) for f in ("smooth_l1_loss.yaml", "margin_ranking_loss.yaml")]


def _run(pythons: dict[str, str], report_dir: Path, *extra: str) -> dict:
    workers = ",".join(f"{k}={pythons[k]}" for k in ("torch", "paddle"))
    cmd = [sys.executable, "-m", "harness.cli", "run", *SPECS, "--workers", workers, "--max-examples", "9",
           "--report-dir", str(report_dir), "-q", "-p", "no:randomly", *extra]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1) and (report_dir / "report.json").exists(), proc.stdout[-3000:] + proc.stderr[-2000:]
    report = strip_timings(json.loads((report_dir / "report.json").read_text()))
    report.pop("command")
    return report


def test_lanes_give_the_report_of_a_run_one_binding_at_a_time(pythons, tmp_path):
    need(pythons, "torch", "paddle")
    lanes, serial = _run(pythons, tmp_path / "lanes"), _run(pythons, tmp_path / "serial", "--no-lanes")
    assert {t["target"] for t in lanes["targets"]} == {t["target"] for t in serial["targets"]}
    assert lanes["findings"], "the specs have findings to compare"
    assert lanes == serial
