"""--shard I/N splits the bindings; `harness report --merge` puts the shards back into one report
equal to the unsharded (here: xdist) run's, apart from timings and the command line (real torch,
small budget)."""
import json
import subprocess
import sys
from pathlib import Path

from harness.report.results import strip_timings

from .conftest import need

ROOT = Path(__file__).resolve().parent.parent
SPECS = [str(ROOT / "specs" / "losses" / f) for f in ("smooth_l1_loss.yaml", "l1_loss.yaml")]


def _run(python: str, report_dir: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "harness.cli", "run", *SPECS, "--workers", f"torch={python}", "--max-examples", "6",
           "--report-dir", str(report_dir), "-q", "-p", "no:randomly", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _report(path: Path) -> dict:
    report = strip_timings(json.loads((path / "report.json").read_text()))
    report.pop("command")  # each run records its own invocation
    return report


def test_sharded_runs_merge_into_the_unsharded_report(pythons, tmp_path):
    need(pythons, "torch")
    runs = {"all": _run(pythons["torch"], tmp_path / "all", "-n", "2"),  # xdist: two processes, one report
            "1": _run(pythons["torch"], tmp_path / "1", "--shard", "1/2"),
            "2": _run(pythons["torch"], tmp_path / "2", "--shard", "2/2")}
    for name, proc in runs.items():
        out = proc.communicate(timeout=900)[0].decode()
        assert (tmp_path / name / "report.json").exists(), out[-3000:]
    targets = lambda r: {t["target"] for t in r["targets"]}  # noqa: E731
    one, two = (json.loads((tmp_path / n / "report.json").read_text()) for n in ("1", "2"))
    assert targets(one) and targets(two) and not targets(one) & targets(two), "each binding runs in exactly one shard"
    gw0, gw1 = (json.loads(p.read_text()) for p in sorted((tmp_path / "all" / "parts").glob("*/gw*.json")))
    assert targets(gw0) and targets(gw1) and not targets(gw0) & targets(gw1), "xdist keeps a binding in one process"
    merged = subprocess.run([sys.executable, "-m", "harness.cli", "report", "--merge", str(tmp_path / "1"),
                             str(tmp_path / "2" / "report.json"), "--report-dir", str(tmp_path / "merged")],
                            cwd=ROOT, capture_output=True, text=True)
    assert merged.returncode == 0, merged.stderr
    assert _report(tmp_path / "merged") == _report(tmp_path / "all")
    assert (tmp_path / "merged" / "index.html").exists()


def test_merge_refuses_reports_of_different_seeds(tmp_path):
    for name, seed in (("a", 1), ("b", 2)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(
            {"schema": "harness-report/1", "seed": seed, "max_examples": 5, "targets": [], "findings": []}))
    merged = subprocess.run([sys.executable, "-m", "harness.cli", "report", "--merge", str(tmp_path / "a"),
                             str(tmp_path / "b"), "--report-dir", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True)
    assert merged.returncode == 2 and "different seeds" in merged.stderr
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_bad_shard_option_says_how_to_write_it(tmp_path):
    out = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--shard", "3/2", "--collect-only",
                          "--report-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "I/N" in out.stderr
