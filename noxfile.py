"""Sessions: `conformance` (the main job), `tests` (the harness's own tests).

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
CHROMIUM = "/usr/bin/chromium"  # Debian's package; the browser tests never download a browser


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


def system_chromium(session: nox.Session) -> None:
    """The browser tests drive Debian's chromium; install it when it is missing (CI machines start without it)."""
    if Path(CHROMIUM).exists():
        return
    if os.geteuid() != 0:
        session.warn(f"{CHROMIUM} is missing: run `sudo apt-get install -y chromium` (the browser tests need it)")
        return
    session.run("apt-get", "update", "-q", external=True)
    session.run("apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium", external=True,
                env={"DEBIAN_FRONTEND": "noninteractive"})


@nox.session(python=PYTHON, reuse_venv=True)
def tests(session: nox.Session) -> None:
    """The harness's own tests, including integration tests against the real frameworks and browser tests."""
    system_chromium(session)
    session.install("--quiet", "-e", ".[test]")
    workers = framework_pythons(session)
    session.run("pytest", "tests", "-q", *session.posargs, env={"HARNESS_WORKERS": workers})
