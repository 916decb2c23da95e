"""The benchmark runs end to end in quick mode and writes every figure it prints (no timing asserted)."""
import json
import subprocess
import sys
from pathlib import Path

from .conftest import need

ROOT = Path(__file__).resolve().parent.parent


def test_quick_bench_writes_its_figures(pythons, tmp_path):
    need(pythons, "torch")
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "harness.bench", "--workers", f"torch={pythons['torch']}", "--quick",
                          "--counts", "20,40", "--sizes", "16,256", "--max-examples", "4", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "harness/raw" in run.stdout and "targets" in run.stdout
    bench = json.loads(out.read_text())
    assert bench["schema"] == "harness-bench/1"
    assert bench["config"]["counts"] == [20, 40] and bench["config"]["sizes"] == [16, 256]
    assert len(bench["machine"]["loadavg_start"]) == 3
    torch = bench["frameworks"]["torch"]
    assert torch["startup_seconds"] > 0 and torch["import_seconds"] > 0 and torch["peak_rss_mb"] > 0
    assert {g["api"] for g in bench["generation"]} >= {"smooth_l1_loss", "cross_entropy"}
    (fixed,) = bench["fixed"]
    assert fixed["framework"] == "torch" and fixed["calls"] > 0
    for row in [fixed] + bench["by_count"] + bench["by_size"]:
        assert row["raw_seconds"] > 0 and row["harness_seconds"] > 0
        assert row["ratio"] == row["harness_seconds"] / row["raw_seconds"]
    assert [r["cases"] for r in bench["by_count"]] == [20, 40]
    assert [r["elements"] for r in bench["by_size"]] == [16, 256]
    assert {t["target"] for t in bench["targets"]} >= {"torch harness/raw (fixed set)", "torch peak RSS MB"}


def test_the_timed_conformance_command_runs_and_a_failed_run_meets_no_target(pythons, tmp_path):
    from harness.bench import conformance_command, targets
    need(pythons, "torch")
    spec = str(ROOT / "specs" / "losses" / "l1_loss.yaml")
    run = subprocess.run(conformance_command({"torch": pythons["torch"]}, str(tmp_path), spec), cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode in (0, 1), run.stdout[-2000:] + run.stderr[-2000:]  # 1: findings; 4 was a usage error
    assert (tmp_path / "report.json").exists()
    out = {"fixed": [], "frameworks": {}, "conformance": {"seconds": 1.1, "exit_code": 4}}
    [row] = targets(out)
    assert not row["met"] and "not a run" in row["target"]
