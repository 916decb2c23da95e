"""Shared fixtures: the real framework pythons (from HARNESS_WORKERS, or installed here)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.workers import ENV_VAR, discover, parse_pythons

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
