"""Sessions: `conformance` (the main job and CI gate), `baseline`, `upgrade`, `stability` (the gate over seeds),
`tests` (after `lint`), `lint`, `bench` (speed figures).

Each framework runs in its own virtualenv, so each can pin its own numpy. The default framework
versions are chosen in one place, the framework registry (harness/run/frameworks/registry.py, read
into FRAMEWORKS below); the command line can choose others:

    nox -s conformance                                  # default pins, gated against reports/baselines/
    nox -s conformance -- paddlepaddle==3.2.2           # another version of one framework
    nox -s conformance -- --frameworks paddle -k smooth_l1   # one framework; other args go to `harness run`
    nox -s upgrade -- paddlepaddle==3.2.2               # what changes going from 3.2.2 to the default pin
    nox -s baseline                                     # accept the current findings (commit reports/baselines/)

pip, not uv: torch's CPU wheel is found through pip's find-links on these machines, and uv does not
see it. torch builds other than 2.13.0 pull several GB of CUDA packages: its matrix is possible
(`-- torch==X`) but not run by default.

Exit status of conformance/upgrade: 0 nothing new, 1 new or changed findings, 2 the harness could
not run everything (bad spec, a framework that failed to install or start).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]

ROOT = Path(__file__).parent


def _registry():
    """harness/run/frameworks/registry.py, loaded by its path: it needs only the standard library, while
    importing it through the harness package would need numpy (and the harness installed)."""
    name = "harness_framework_registry"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "harness" / "run" / "frameworks" / "registry.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it: its dataclass looks its own module up
        spec.loader.exec_module(module)
    return sys.modules[name]


REGISTRY = _registry()
PACKAGES = {f.name: f.pip for f in REGISTRY.FRAMEWORKS}  # framework -> the pip package its pin names
FRAMEWORKS = {f.name: list(f.pins) for f in REGISTRY.FRAMEWORKS}  # framework -> default pins, in display order
PYTHON = "3.11"
REPORTS = ROOT / "reports"
HARNESS_ERROR = 2
CHROMIUM = "/usr/bin/chromium"  # Debian's package; the browser tests never download a browser


def parse_posargs(posargs: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """`PACKAGE==VERSION` args change a pin, `--frameworks a,b` picks frameworks; the rest go to harness."""
    pins = {name: list(p) for name, p in FRAMEWORKS.items()}
    chosen, rest, it = None, [], iter(posargs)
    by_package = {pkg: name for name, pkg in PACKAGES.items()}
    for arg in it:
        pkg, sep, version = arg.partition("==")
        if sep and (pkg in by_package or pkg in PACKAGES):
            name = by_package.get(pkg, pkg)
            pins[name][0] = f"{PACKAGES[name]}=={version}"
        elif arg == "--frameworks" or arg.startswith("--frameworks="):
            value = arg.split("=", 1)[1] if "=" in arg else next(it, "")
            chosen = [n.strip() for n in value.split(",") if n.strip()]
            unknown = sorted(set(chosen) - set(FRAMEWORKS))
            if unknown:
                raise SystemExit(f"unknown framework(s) {unknown} in --frameworks; known: {sorted(FRAMEWORKS)}")
        else:
            rest.append(arg)
    if chosen is not None:
        pins = {name: pins[name] for name in chosen}
    return pins, rest


def framework_pythons(session: nox.Session, pins: dict[str, list[str]] | None = None) -> str:
    """Create or reuse one virtualenv per framework; return NAME=PYTHON,... for the harness."""
    pythons = []
    for name, wanted in (FRAMEWORKS if pins is None else pins).items():
        version = wanted[0].split("==", 1)[1]
        env = ROOT / ".nox" / (f"fw-{name}" if wanted == FRAMEWORKS[name] else f"fw-{name}-{version}")
        python = env / "bin" / "python"
        stamp = env / "harness-pins.json"
        if not (python.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted):
            session.log(f"creating the {name} environment: {' '.join(wanted)}")
            session.run("python", "-m", "venv", "--clear", str(env))
            try:
                session.run(str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted,
                            external=True)
            except nox.command.CommandFailed:
                session.log(f"could not install {' '.join(wanted)}: the harness cannot run {name} (exit 2)")
                raise SystemExit(HARNESS_ERROR) from None
            stamp.write_text(json.dumps(wanted))
        pythons.append(f"{name}={python}")
    return ",".join(pythons)


def _install(session: nox.Session, project: str) -> None:
    """`pip install -e PROJECT` into the session's env, skipped when this env already has it from the same
    pyproject.toml: the install is editable, so changed code needs none, and pip takes 3-5 s to say so."""
    stamp = Path(session.virtualenv.location) / "harness-install.json"  # type: ignore[union-attr]
    wanted = {"project": project, "pyproject": hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted and (Path(session.bin) / "harness").exists():
        session.log(f"{project} is installed (editable) from this pyproject.toml")
        return
    session.install("--quiet", "-e", project)
    stamp.write_text(json.dumps(wanted))


def _harness(session: nox.Session, *args: str) -> int:
    """Run the `harness` command of the session's env and return its exit status (nox would flatten it)."""
    return subprocess.call([str(Path(session.bin) / "harness"), *args], cwd=ROOT)


def _conformance(session: nox.Session, pins: dict[str, list[str]], args: list[str], report_dir: Path) -> int:
    workers = framework_pythons(session, pins)
    code = _harness(session, "run", "--workers", workers, "--report-dir", str(report_dir),
                    "--junitxml", str(report_dir / "junit.xml"), "-q", *args)
    if code not in (0, 1):  # 1: undocumented findings, which the gate judges against the baseline
        session.log(f"harness run exited {code}: it could not run everything")
        return HARNESS_ERROR
    return 0


def _run_then(session: nox.Session, *command: str) -> None:
    """Run conformance, then a harness command on its report; exit with the documented status."""
    _install(session, ".")
    pins, args = parse_posargs(session.posargs)
    run_code = _conformance(session, pins, args, REPORTS)
    code = _harness(session, *command, "--report", str(REPORTS / "report.json"))
    code = HARNESS_ERROR if HARNESS_ERROR in (run_code, code) else code
    if code:
        raise SystemExit(code)


@nox.session(python=PYTHON, reuse_venv=True)
def conformance(session: nox.Session) -> None:
    """Run every spec against every framework; write reports/index.html, report.json, junit.xml; gate."""
    _run_then(session, "gate")


@nox.session(python=PYTHON, reuse_venv=True)
def baseline(session: nox.Session) -> None:
    """Run conformance and accept its findings as the baselines of the versions that ran."""
    _run_then(session, "baseline", "update")


@nox.session(python=PYTHON, reuse_venv=True)
def upgrade(session: nox.Session) -> None:
    """`-- PACKAGE==OLD ...`: run the old and the default pins of those frameworks and diff the two runs."""
    _install(session, ".")
    old_pins, args = parse_posargs(session.posargs)
    changed = sorted(n for n in old_pins if old_pins[n] != FRAMEWORKS[n])
    if not changed:
        session.error("give the old version(s), e.g. `nox -s upgrade -- paddlepaddle==3.2.2`")
    out = REPORTS / "upgrade"
    old_dir, new_dir = out / "old", out / "new"
    codes = [_conformance(session, {n: old_pins[n] for n in changed}, args, old_dir),
             _conformance(session, {n: FRAMEWORKS[n] for n in changed}, args, new_dir)]
    code = _harness(session, "diff", str(old_dir / "report.json"), str(new_dir / "report.json"), "--out", str(out))
    code = HARNESS_ERROR if HARNESS_ERROR in codes else code
    if code:
        raise SystemExit(code)


@nox.session(python=PYTHON, reuse_venv=True)
def stability(session: nox.Session) -> None:
    """`-- --runs N`: run seeds 1..N against the baselines and count per framework what appeared, disappeared,
    moved, flipped or changed (reports/stability.txt); exit as the gate, worst run. Other args go to `harness run`."""
    _install(session, ".")
    pins, args = parse_posargs(session.posargs)
    runs, rest = 10, []
    it = iter(args)
    for arg in it:
        if arg == "--runs" or arg.startswith("--runs="):
            value = arg.split("=", 1)[1] if "=" in arg else next(it, "")
            if not value.isdigit() or int(value) < 1:
                session.error(f"--runs takes a positive count, got {value!r}")
            runs = int(value)
        else:
            rest.append(arg)
    out = REPORTS / "stability"
    codes = [_conformance(session, pins, [*rest, "--seed", str(seed)], out / f"seed-{seed}") for seed in range(1, runs + 1)]
    code = _harness(session, "stability", *(str(out / f"seed-{seed}") for seed in range(1, runs + 1)), "--out", str(REPORTS))
    code = HARNESS_ERROR if HARNESS_ERROR in codes else code
    if code:
        raise SystemExit(code)


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


LINTED = ["harness", "tests", "noxfile.py", "conftest.py"]


def _lint(session: nox.Session) -> None:
    session.run("ruff", "check", *LINTED)
    session.run("mypy")  # files and strictness: [tool.mypy] in pyproject.toml


@nox.session(python=PYTHON, reuse_venv=True)
def lint(session: nox.Session) -> None:
    """ruff and mypy as configured in pyproject.toml (`nox -s tests` runs them first)."""
    _install(session, ".[lint]")
    _lint(session)


@nox.session(python=PYTHON, reuse_venv=True)
def tests(session: nox.Session) -> None:
    """Lint, then the harness's own tests, including integration tests against the real frameworks and browser tests."""
    system_chromium(session)
    _install(session, ".[test]")
    _lint(session)
    workers = framework_pythons(session)
    session.run("pytest", "tests", "-q", *session.posargs, env={"HARNESS_WORKERS": workers})


@nox.session(python=PYTHON, reuse_venv=True)
def bench(session: nox.Session) -> None:
    """Harness time against the frameworks' own call time; prints a table, writes reports/bench.json.

    Also times a whole default conformance run; `nox -s bench -- --quick` is a smoke run without it.
    """
    _install(session, ".")
    workers = framework_pythons(session)
    args = list(session.posargs)
    if "--quick" not in args:
        args.append("--conformance")
    session.run("python", "-m", "harness.bench", "--workers", workers, *args)
