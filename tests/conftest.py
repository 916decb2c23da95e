"""Shared fixtures: the real framework pythons (from HARNESS_WORKERS, or installed here)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.run.pool import ENV_VAR, discover, parse_pythons

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pythons() -> dict[str, str]:
    found, _ = discover(parse_pythons(os.environ.get(ENV_VAR, "")))
    return found


def need(pythons: dict[str, str], *names: str) -> None:
    missing = [n for n in names if n not in pythons]
    if missing:
        if os.environ.get("CI") or os.environ.get(ENV_VAR):
            pytest.fail(f"frameworks {missing} are required here but not configured ({ENV_VAR})")
        pytest.skip(f"frameworks not installed: {missing}")


@pytest.fixture(scope="session")
def conformance_report(pythons, tmp_path_factory) -> Path:
    """One real conformance run of the seed APIs on a small budget, for the report, reproducer and browser tests.

    Three specs, not all: the whole family takes tens of minutes (crashing kernels restart workers),
    and these three exercise every report feature (plots, claims, missing-free matrix, all checks)."""
    import subprocess
    import sys

    need(pythons, "torch", "mindspore", "paddle")
    out = tmp_path_factory.mktemp("conformance")
    workers = ",".join(f"{k}={v}" for k, v in pythons.items())
    specs = [str(ROOT / "specs" / "losses" / f"{name}.yaml") for name in ("smooth_l1_loss", "cross_entropy", "l1_loss")]
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", *specs, "--workers", workers, "-q",
                           "--max-examples", "30", "--report-dir", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert (out / "index.html").exists(), f"the run wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return out
