"""The pytest path end to end: a spec directory with a bad spec, run as a user would."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema

from .conftest import need

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


def _run(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "harness.plugin", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path / "specs"), "--report-dir", str(tmp_path / "reports"),
                           "--cases-dir", str(ROOT / "cases"), "-q", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_bad_spec_is_reported_and_the_good_one_still_runs(tmp_path, pythons):
    need(pythons, "torch")
    (tmp_path / "specs").mkdir()
    shutil.copy(ROOT / "specs" / "losses" / "l1_loss.yaml", tmp_path / "specs" / "l1_loss.yaml")
    shutil.copy(DATA / "bad_specs" / "formula_outside_vocabulary.yaml", tmp_path / "specs" / "broken.yaml")
    tiny = (DATA / "good_minimal.yaml").read_text()
    (tmp_path / "specs" / "tiny.yaml").write_text(tiny + "  paddle:\n    missing: {source: 'https://example.org/list', note: n}\n")
    proc = _run(tmp_path, "--workers", f"torch={pythons['torch']}", "--max-examples", "20")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out  # a bad spec: the harness could not run everything
    assert "broken.yaml:13" in out and "'eval'" in out
    assert "mindspore is not installed here" in out or "skipped" in out
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    jsonschema.validate(report, json.loads((ROOT / "reports" / "report.schema.json").read_text()))
    assert report["spec_errors"][0]["line"] == 13
    assert {t["target"] for t in report["targets"]} == {"torch.nn.L1Loss", "torch.nn.functional.l1_loss"}
    assert [(m["api"], m["framework"]) for m in report["missing"]] == [("tiny_l1", "paddle")]
    assert report["frameworks"]["torch"].startswith("2.")
    html = (tmp_path / "reports" / "index.html").read_text()
    assert "torch.nn.L1Loss" in html and "<script>alert" not in html
    assert "conformance findings" in out


def test_k_selects_checks(tmp_path, pythons):
    need(pythons, "torch")
    (tmp_path / "specs").mkdir()
    shutil.copy(ROOT / "specs" / "losses" / "l1_loss.yaml", tmp_path / "specs" / "l1_loss.yaml")
    proc = _run(tmp_path, "--workers", f"torch={pythons['torch']}", "--max-examples", "10", "-k", "signature and torch",
                "--junitxml", str(tmp_path / "junit.xml"))
    assert "2 passed" in proc.stdout, proc.stdout + proc.stderr
    assert "signature" in (tmp_path / "junit.xml").read_text()
