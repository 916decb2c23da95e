"""Reproducers: lossless inputs, exact literals, and every script reproducing its finding in its framework."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness.checks import registry
from harness.report import scripts as repro
from harness.spec import dtypes

ROOT = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).with_name("repro_driver.py")


def test_arrays_travel_losslessly_including_bfloat16_and_non_finite():
    a = np.array([[1.5, -0.0, np.nan], [np.inf, -np.inf, 5e-324]])
    back = repro.decode(repro.encode(a))
    assert back.dtype == a.dtype and back.tobytes() == a.tobytes()
    b = dtypes.cast(np.array([0.1, 3.0, -2.5]), "bfloat16")
    enc = repro.encode(b, "bfloat16")
    assert enc["dtype"] == "bfloat16" and np.array_equal(repro.decode(enc), b.astype(np.float32))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int64"])
def test_inline_literals_rebuild_the_exact_array(dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 5)) * 1e3).astype(dtype)
    if a.dtype.kind == "f":
        a.ravel()[:4] = [np.nan, np.inf, -0.0, np.finfo(dtype).tiny / 3]
    text = repro._literal(a)
    rebuilt = eval(f"np.array({text}, dtype=np.{a.dtype.name})", {"np": np})  # the snippet's own expression
    assert rebuilt.tobytes() == a.tobytes()


@pytest.mark.parametrize("shape", [(0,), (0, 2, 3), (2, 0, 3), (), (1, 1)])
def test_script_arrays_keep_their_shape(shape):
    a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    script = repro._Script("x")
    script.array("a", repro.encode(a))
    scope = {"np": np}
    exec(script.lines[0], scope)
    assert scope["a"].shape == a.shape and scope["a"].dtype == a.dtype and scope["a"].tobytes() == a.tobytes()


def _scripts(report_dir: Path) -> dict[str, list[Path]]:
    report = json.loads((report_dir / "report.json").read_text())
    by_framework: dict[str, list[Path]] = {}
    for f in report["findings"]:
        path = report_dir / "repro" / f"{f['id']}.py"
        if registry.get(f["check"]).reproducer == "none":  # no script yet: the report says why (tests/test_browser.py)
            assert not path.exists()
            continue
        assert path.exists(), f"finding {f['id']} ({f['target']} {f['check']}) has no reproducer"
        by_framework.setdefault(f["framework"], []).append(path)
    return by_framework


def _empty_input_findings(report_dir: Path) -> set[str]:
    report = json.loads((report_dir / "report.json").read_text())
    return {f["id"] for f in report["findings"] if f.get("case") and any(
        a and 0 in (a.get("shape") or [1]) for a in f["case"].get("inputs", {}).values())}


def test_every_reproducer_shows_its_discrepancy(conformance_report, pythons, tmp_path):
    """Each script, run in its framework's python, exits 1 (the discrepancy is there) after printing it."""
    scripts = _scripts(conformance_report)
    assert set(scripts) == {"torch", "mindspore", "paddle"}, "the run should find something in every framework"
    failures = []
    for framework, paths in scripts.items():
        out = tmp_path / f"{framework}.json"
        env = {**os.environ, "GLOG_minloglevel": "2"}
        subprocess.run([pythons[framework], str(DRIVER), str(out), *map(str, paths)], env=env, cwd=tmp_path,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
        for result in json.loads(out.read_text()):
            if result["status"] == 0 and Path(result["path"]).stem in _empty_input_findings(conformance_report):
                continue  # MindSpore (and torch) reductions of empty tensors return uninitialized memory:
                # whether 20 calls in a fresh process show it is chance (issue 6: nondeterministic verdicts)
            if result["status"] != 1 or not result["output"].strip():
                failures.append(f"{framework} {Path(result['path']).name}: exit {result['status']}\n{result['output'][-800:]}")
    assert not failures, "reproducers that do not reproduce:\n" + "\n".join(failures)


def test_a_reproducer_runs_as_a_plain_script(conformance_report, pythons):
    """Standalone: `python ID.py` in the framework's environment, from another directory, loading its .npz if any."""
    report = json.loads((conformance_report / "report.json").read_text())
    with_data = [f for f in report["findings"] if (conformance_report / "repro" / f"{f['id']}.npz").exists()]
    chosen = (with_data or report["findings"])[0]
    script = conformance_report / "repro" / f"{chosen['id']}.py"
    proc = subprocess.run([pythons[chosen["framework"]], str(script)], cwd="/", capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GLOG_minloglevel": "2", "PYTHONPATH": ""})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "expected" in proc.stdout or "raised" in proc.stdout or "documented" in proc.stdout
