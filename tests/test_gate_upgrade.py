"""The gate catches a real behaviour change of a framework upgrade, and passes when nothing changed.

End to end through `harness run` (pytest and the plugin, the worker pool, the judge, the report writer),
`harness baseline update` (the baseline file and the replayed cases) and `harness gate`, with only the
framework faked: tests/fake_framework.py is a FAKE adapter for fault and gate tests only, never a real
framework. The spec's `torch` bindings run in it through a stand-in "python" for the torch worker that
starts the worker with the fake adapter instead; the version it reports is $FAKE_VERSION, so baselines
are per version as for a real one. Version 1.1 changes one binding's result in one region
(`torch.fake.drift`: float64 inputs without nan or inf); `torch.fake.wrong_shape` has the same finding
in both versions.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from harness.cli import main
from harness.gate import delta

ROOT = Path(__file__).resolve().parent.parent
SPEC = Path(__file__).parent / "data" / "gate" / "fake_upgrade.yaml"
FAKE = "fake:tests.fake_framework"
RUN = ["--seed", "1", "--max-examples", "20", "--no-recheck", "-q"]
STEADY = ("fake_upgrade", "torch.fake.wrong_shape", "values", "shape", "values=finite")
CHANGED = ("fake_upgrade", "torch.fake.drift", "values", "value", "dtype(input)=float64;values=finite")


def _stand_in(tmp_path: Path) -> Path:
    """A "python" for the torch worker (`PY -m harness.run.worker torch [MEMORY]`) that runs the fake adapter."""
    path = tmp_path / "fake-torch-python"
    path.write_text(f'#!/bin/sh\nshift 3\nexec "{sys.executable}" -m harness.run.worker {FAKE} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _run(tmp_path: Path, version: str, name: str) -> Path:
    """`harness run` of the spec with the fake as torch at `version`; returns its report.json."""
    out = tmp_path / name
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "-p", "harness.plugin", str(tmp_path / "specs" / SPEC.name),
         "--workers", f"torch={_stand_in(tmp_path)}", "--report-dir", str(out), "--cases-dir", str(tmp_path / "cases"),
         *RUN],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "FAKE_VERSION": version, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]  # 1: undocumented findings, no harness error
    report = json.loads((out / "report.json").read_text())
    assert report["frameworks"] == {"torch": version} and not delta.harness_errors(report)
    return out / "report.json"


def _findings(report: Path) -> dict[tuple[str, ...], str]:
    data = json.loads(report.read_text())
    return {(f["api"], f["target"], f["check"], f["verdict"], ";".join(f"{k}={'|'.join(v)}" for k, v in sorted(f["region"].items()))):
            f["id"] for f in data["findings"]}


def _gate(tmp_path: Path, report: Path, name: str, capsys) -> tuple[int, dict, str]:
    out = tmp_path / name
    code = main(["gate", "--report", str(report), "--baselines", str(tmp_path / "baselines"), "--out", str(out)])
    printed = capsys.readouterr().out
    text = (out / "gate.txt").read_text()
    assert text.strip() in printed
    return code, json.loads((out / "gate.json").read_text()), text


NOT_FAILING = ("explored", "flipped", "moved", "redocumented", "fixed", "ungated", "not_run")


def test_the_gate_names_exactly_the_finding_an_upgrade_changed(tmp_path, capsys):
    (tmp_path / "specs").mkdir()
    shutil.copy(SPEC, tmp_path / "specs" / SPEC.name)

    accepted = _run(tmp_path, "1.0", "run-1.0")
    assert set(_findings(accepted)) == {STEADY}
    assert main(["baseline", "update", "--report", str(accepted), "--baselines", str(tmp_path / "baselines"),
                 "--cases", str(tmp_path / "cases")]) == 0
    steady_id = _findings(accepted)[STEADY]
    lines = [line for line in (tmp_path / "baselines" / "torch-1.0.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines == [f"{steady_id} shape undocumented fake_upgrade torch.fake.wrong_shape values values=finite -"]
    assert (tmp_path / "cases" / "regressions" / "fake_upgrade.yaml").exists()  # replayed by the runs below

    # the same version again: nothing new or changed
    code, gate, text = _gate(tmp_path, _run(tmp_path, "1.0", "again-1.0"), "gate-1.0", capsys)
    assert code == delta.OK and gate["exit_code"] == 0
    assert gate["new_findings"] == [] and gate["changed"] == [] and gate["unchanged"] == 1
    assert all(gate[k] == [] for k in NOT_FAILING) and gate["errors"] == []
    assert "torch: 1.0 -> 1.0 (unchanged)" in text and "NEW (0)" in text and "CHANGED (0)" in text
    assert "PASS: nothing new or changed (exit 0)" in text

    # the upgrade: judged by the newest older baseline (1.0); one finding is new, the steady one unchanged
    upgraded = _run(tmp_path, "1.1", "run-1.1")
    assert set(_findings(upgraded)) == {STEADY, CHANGED} and _findings(upgraded)[STEADY] == steady_id
    drift_id = _findings(upgraded)[CHANGED]
    code, gate, text = _gate(tmp_path, upgraded, "gate-1.1", capsys)
    assert code == delta.FINDINGS and gate["exit_code"] == 1
    assert gate["old"] == "baseline (torch-1.0)" and gate["versions"] == {"torch": ["1.0", "1.1"]}
    assert gate["new_findings"] == [{"id": drift_id, "verdict": "value", "documented": False, "api": "fake_upgrade",
                                     "target": "torch.fake.drift", "check": "values",
                                     "region": "dtype(input)=float64;values=finite", "explored": False, "subject": "-"}]
    assert gate["changed"] == [] and gate["unchanged"] == 1
    assert all(gate[k] == [] for k in NOT_FAILING) and gate["errors"] == []
    assert "torch: 1.0 -> 1.1" in text and "NEW (1)\n" in text and "CHANGED (0)" in text and "FIXED (0)" in text
    assert [line for line in text.splitlines() if line.startswith("  + ")] == [
        f"  + {drift_id} fake_upgrade torch.fake.drift [values] value (UNDOCUMENTED; where dtype(input)=float64;values=finite)"]
    assert steady_id not in text and "FAIL: new or changed findings (exit 1)" in text
