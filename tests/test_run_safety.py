"""`harness run` as a user runs it: bad specs give exit status 2 while the rest runs, and a run killed
with SIGKILL leaves a readable partial report, never a corrupt one."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema

from harness.report.results import PartWriter, merge

from .conftest import need

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
SCHEMA = json.loads((ROOT / "reports" / "report.schema.json").read_text())
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _harness(*args, **kw):
    return [sys.executable, "-m", "harness.cli", *args]


def test_bad_specs_exit_2_and_the_good_spec_still_runs(tmp_path, pythons):
    need(pythons, "torch")
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(DATA / "good_minimal.yaml", specs / "a_good.yaml")
    shutil.copy(DATA / "good_minimal.yaml", specs / "b_same_api.yaml")  # duplicate api name
    for bad in ("not_utf8", "yaml_bomb", "contradictory_raises", "path_like_target"):
        shutil.copy(DATA / "bad_specs" / f"{bad}.yaml", specs / f"{bad}.yaml")
    proc = subprocess.run(_harness("run", str(specs), "--workers", f"torch={pythons['torch']}", "--max-examples", "10",
                                   "--report-dir", str(tmp_path / "reports"), "-q", "-p", "no:cacheprovider",
                                   "-p", "harness.plugin", "--rootdir", str(tmp_path)),
                          cwd=tmp_path, capture_output=True, text=True, timeout=900, env=ENV)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    errors = {Path(e["file"]).name: e for e in report["spec_errors"]}
    assert set(errors) == {"b_same_api.yaml", "not_utf8.yaml", "yaml_bomb.yaml", "contradictory_raises.yaml",
                           "path_like_target.yaml"}
    assert "already defined in" in errors["b_same_api.yaml"]["message"]
    assert all(e["line"] and e["fix"] for e in errors.values())
    assert [t["target"] for t in report["targets"]] == ["torch.nn.functional.l1_loss"]
    assert sum(report["targets"][0]["counts"]["values"].values()) > 0, "the good spec ran"
    for name, e in errors.items():
        assert f"{name}:{e['line']}" in out, f"the terminal names {name} and its line"


def test_a_run_killed_mid_way_leaves_a_readable_partial_report(tmp_path, pythons):
    need(pythons, "torch")
    reports = tmp_path / "reports"
    proc = subprocess.Popen(_harness("run", str(ROOT / "specs"), "--workers", f"torch={pythons['torch']}",
                                     "--max-examples", "40", "--report-dir", str(reports), "-q", "-p", "no:cacheprovider"),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
                            start_new_session=True)
    try:
        deadline = time.time() + 600
        while time.time() < deadline and proc.poll() is None:
            parts = list((reports / "parts").glob("*/*.json"))
            if parts and json.loads(parts[0].read_text()).get("targets"):
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its framework workers, with no chance to clean up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (reports / "report.json").exists(), "killed before the end: only part files"
    for part in (reports / "parts").glob("*/*.json"):
        json.loads(part.read_text())  # every part file is whole
    done = subprocess.run(_harness("report", "--report-dir", str(reports)), capture_output=True, text=True, env=ENV,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    report = json.loads((reports / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["targets"] and all(t["counts"] for t in report["targets"])
    assert report["incomplete"] is True, "a killed run's report says so"
    assert (reports / "index.html").read_text().rstrip().endswith("</html>")
    gate = subprocess.run(_harness("gate", "--report", str(reports / "report.json"), "--out", str(tmp_path / "gate")),
                          capture_output=True, text=True, env=ENV, timeout=120, cwd=ROOT)
    assert gate.returncode == 2 and "did not finish" in gate.stdout, gate.stdout[-2000:]


def _part(reports, finished):
    """The part file of a run as the plugin writes it: `started` at once, `finished` only at a normal end."""
    meta = {"seed": 1, "max_examples": 5, "command": "harness run", "started": 1.0, **({"finished": True} if finished else {})}
    target = {"api": "l1_loss", "title": "L1", "framework": "torch", "target": "torch.nn.L1Loss", "kind": "class",
              "counts": {"values": {"match": 3}}, "calls": 3, "seconds": 0.1, "error": None, "spec": "specs/l1.yaml",
              "findings": []}
    part = PartWriter(reports / "parts" / "run" / "main.json", meta)
    part.frameworks, part.targets = {"torch": "2.13.0"}, [target]
    part.flush()


def test_a_killed_runs_report_is_marked_incomplete_and_never_gated_or_accepted(tmp_path):
    reports, baselines = tmp_path / "reports", tmp_path / "baselines"
    _part(reports, finished=False)
    done = subprocess.run(_harness("report", "--report-dir", str(reports)), capture_output=True, text=True, env=ENV,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0 and "INCOMPLETE" in done.stdout, done.stdout + done.stderr
    report = json.loads((reports / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["incomplete"] is True and "finished" not in report
    assert "Incomplete run" in (reports / "index.html").read_text()
    gate = subprocess.run(_harness("gate", "--report", str(reports / "report.json"), "--baselines", str(baselines),
                                   "--out", str(tmp_path / "gate")), capture_output=True, text=True, env=ENV, timeout=120,
                          cwd=ROOT)
    assert gate.returncode == 2 and "did not finish" in gate.stdout, gate.stdout
    accept = subprocess.run(_harness("baseline", "update", "--report", str(reports / "report.json"), "--baselines",
                                     str(baselines), "--cases", str(tmp_path / "cases")),
                            capture_output=True, text=True, env=ENV, timeout=120, cwd=ROOT)
    assert accept.returncode == 2 and "did not finish" in accept.stderr, accept.stdout + accept.stderr
    assert not baselines.exists(), "a partial run must not replace the accepted findings"


def test_a_finished_runs_report_is_complete(tmp_path):
    _part(tmp_path, finished=True)
    merged = merge(sorted((tmp_path / "parts").glob("*/*.json")), {})
    assert merged["incomplete"] is False and "finished" not in merged


WRITER = """
import json, sys
from pathlib import Path
from harness.files import write_atomic
path = Path(sys.argv[1])
write_atomic(path, json.dumps({"i": 0, "pad": ["x" * 1000] * 2000}))
print("ready", flush=True)
i = 0
while True:
    i += 1
    write_atomic(path, json.dumps({"i": i, "pad": ["x" * 1000] * 2000}))
"""


def test_write_atomic_survives_sigkill_at_any_moment(tmp_path):
    target = tmp_path / "part.json"
    rewrites = []
    for delay in (0.0, 0.013, 0.05, 0.13, 0.21, 0.34):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], env=ENV, cwd=ROOT, stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)  # somewhere inside one of the rewrites
        proc.wait()
        data = json.loads(target.read_text())  # never a torn file
        assert len(data["pad"]) == 2000
        rewrites.append(data["i"])
    assert max(rewrites) > 0, "the kills landed while the file was being rewritten"
