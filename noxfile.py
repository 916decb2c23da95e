"""Sessions: `conformance` (the main job), `tests` (the harness's own tests), `bench` (speed figures).

Each framework runs in its own virtualenv, so each can pin its own numpy; the pins below are
the one place framework versions are chosen. pip, not uv: torch's CPU wheel is found through
pip's find-links on these machines, and uv does not see it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]

ROOT = Path(__file__).parent
FRAMEWORKS = {
    "torch": ["torch==2.13.0", "numpy<3"],
    "mindspore": ["mindspore==2.10.0", "numpy<2"],  # MindSpore 2.10 is built against numpy 1.x
    "paddle": ["paddlepaddle==3.3.1", "numpy<3"],
}
PYTHON = "3.11"


def framework_pythons(session: nox.Session) -> str:
    """Create or reuse one virtualenv per framework; return NAME=PYTHON,... for the harness."""
    pythons = []
    for name, pins in FRAMEWORKS.items():
        env = ROOT / ".nox" / f"fw-{name}"
        python = env / "bin" / "python"
        stamp = env / "harness-pins.json"
        if not (python.exists() and stamp.exists() and json.loads(stamp.read_text()) == pins):
            session.log(f"creating the {name} environment: {' '.join(pins)}")
            session.run("python", "-m", "venv", "--clear", str(env))
            session.run(str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins,
                        external=True)
            stamp.write_text(json.dumps(pins))
        pythons.append(f"{name}={python}")
    return ",".join(pythons)


@nox.session(python=PYTHON, reuse_venv=True)
def conformance(session: nox.Session) -> None:
    """Run every spec against every framework; write reports/index.html, report.json, junit.xml."""
    session.install("--quiet", "-e", ".")
    workers = framework_pythons(session)
    args = session.posargs or []
    session.run("harness", "run", "--workers", workers, "--junitxml", str(ROOT / "reports" / "junit.xml"),
                "-q", *args)


@nox.session(python=PYTHON, reuse_venv=True)
def tests(session: nox.Session) -> None:
    """The harness's own tests, including integration tests against the real frameworks."""
    session.install("--quiet", "-e", ".")
    workers = framework_pythons(session)
    session.run("pytest", "tests", "-q", *session.posargs, env={"HARNESS_WORKERS": workers})


@nox.session(python=PYTHON, reuse_venv=True)
def bench(session: nox.Session) -> None:
    """Harness time against the frameworks' own call time; prints a table, writes reports/bench.json.

    Also times a whole default conformance run; `nox -s bench -- --quick` is a smoke run without it.
    """
    session.install("--quiet", "-e", ".")
    workers = framework_pythons(session)
    args = list(session.posargs)
    if "--quick" not in args:
        args.append("--conformance")
    session.run("python", "-m", "harness.bench", "--workers", workers, *args)
