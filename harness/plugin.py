"""pytest collection of specs as test items: `specs/**/*.yaml` -> one item per (binding, check).

pytest's own pattern for non-Python test files, so `-k`, `-x`, `--junitxml` and xdist work as
usual. Every item of one binding shares one run of that binding (computed by whichever item
comes first); an item fails when its check found a discrepancy the docs do not explain.

Only the adapter: options, collection, shards, xdist plumbing, pass/fail and the terminal summary.
The run itself (workers, cases, results, part files) is harness.run.session's.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.checks import registry
from harness.files import inside
from harness.gate import delta
from harness.report.html import text_table
from harness.report.publish import publish
from harness.report.results import merge
from harness.report.schema import Report, RunMeta
from harness.run.pool import (
    ENV_VAR,
    WorkerStartError,
    discover,
    parse_memory,
    parse_pythons,
)
from harness.run.session import RunOptions, RunSession
from harness.spec.model import Spec
from harness.spec.source import SourceError

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness", "conformance harness")
    g.addoption("--seed", type=int, default=20261121, help="seed of the explored cases (same seed, same cases); the core cases "
                "and replayed regressions do not depend on it")
    g.addoption("--max-examples", type=int, default=150, help="generated cases per spec: two thirds from the fixed core (the same for every seed), "
                "one third explored with --seed")
    g.addoption("--workers", action="append", default=[],
                help=f"framework pythons, NAME=PYTHON[,...] (default: ${ENV_VAR}, else the frameworks installed here)")
    g.addoption("--case-timeout", type=float, default=60.0, help="seconds one call may take before it is a timeout")
    g.addoption("--memory-limit", default="auto",
                help="memory each framework process may allocate, e.g. 4G; `auto`: half the machine's; 0: no limit")
    g.addoption("--crash-budget", type=int, default=3,
                help="crashes or hangs of one finding region (check, case features, crash/timeout/memory) after which "
                     "a binding runs only every 4th further case of it and never repeats a call that crashed; 0: run all")
    g.addoption("--no-recheck", action="store_true",
                help="do not re-run cases to detect nondeterministic results (faster, less trustworthy)")
    g.addoption("--no-lanes", action="store_true",
                help="run a spec's bindings one after another in shared framework processes, not side by side in lanes "
                     "of their own (slower; the report is the same where results do not depend on what a process ran "
                     "before: torch and paddle, not MindSpore)")
    g.addoption("--report-dir", default=str(ROOT / "reports"), help="where report.json and index.html go")
    g.addoption("--cases-dir", default=str(ROOT / "cases"), help="checked-in cases (doc examples, regressions)")
    g.addoption("--shard", type=_shard, default=None, metavar="I/N",
                help="run the I-th of N deterministic shares of the bindings (CI matrices); "
                     "merge the shards' reports with `harness report --merge DIR ...`")


def _by_binding(config: pytest.Config) -> None:
    """`-n N` alone distributes by spec (xdist's loadgroup): the items of one spec share one process, which runs
    its bindings side by side, and plain `load` would split a binding's items across processes that each run the
    binding again. Done at
    configure time, whatever xdist's own `pytest_cmdline_main` made of `-n` (`load`) before this
    plugin could act; an explicit `--dist` is left alone."""
    explicit = any(str(a) == "--dist" or str(a).startswith("--dist=") or str(a) == "-d"
                   for a in config.invocation_params.args)
    if getattr(config.option, "numprocesses", None) and not explicit and getattr(config.option, "dist", None) in ("no", "load"):
        config.option.dist = "loadgroup"


def _shard(text: str) -> tuple[int, int]:
    i, sep, n = text.partition("/")
    if not (sep and i.isdigit() and n.isdigit() and 1 <= int(i) <= int(n)):
        raise argparse.ArgumentTypeError(f"takes I/N with 1 <= I <= N, e.g. 1/4; got {text!r}")
    return int(i), int(n)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--shard I/N: keep the bindings whose place in the sorted list of all bindings is I modulo N.

    Sorted by api then target, neighbours are a spec's bindings in framework order, so each share
    mixes specs and frameworks. A bad spec's item stays in every share (the merge keeps it once).
    """
    if config.option.shard is None:
        return
    i, n = config.option.shard
    keys = sorted({(item.spec.api, item.target) for item in items if isinstance(item, CheckItem)})
    mine = {key for index, key in enumerate(keys) if index % n == i - 1}
    keep = [item for item in items if not isinstance(item, CheckItem) or (item.spec.api, item.target) in mine]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    """Each spec's bindings run side by side (RunSession.plan): a run in one process knows every binding it will
    run, and under xdist's loadgroup a worker gets each spec whole (its items share one group), so it runs all of a
    spec's bindings once its first item comes (without drawing ahead: which spec comes next is xdist's choice).
    --no-lanes runs them one after another."""
    config = session.config
    if config.option.no_lanes:
        return
    if _is_worker(config):
        if not getattr(config.option, "loadgroup", False) and getattr(config.option, "dist", None) != "loadgroup":
            return  # another distribution may split a spec's bindings over processes
    elif getattr(config.option, "numprocesses", None):
        return  # the xdist controller runs no item
    items = [(item.spec, item.target) for item in session.items if isinstance(item, CheckItem)]
    if items:
        _session(config).plan(items, draw_ahead=not _is_worker(config))


def _workers(config: pytest.Config) -> dict[str, str]:
    """Framework pythons as configured, from --workers or the environment (empty: the ones installed here)."""
    return parse_pythons(config.option.workers or os.environ.get(ENV_VAR, ""))


def _options(config: pytest.Config) -> RunOptions:
    opt = config.option
    return RunOptions(seed=opt.seed, max_examples=opt.max_examples, workers=_workers(config),
                      case_timeout=opt.case_timeout, memory_limit=parse_memory(opt.memory_limit),
                      recheck=not opt.no_recheck, report_dir=Path(opt.report_dir), cases_dir=Path(opt.cases_dir),
                      crash_budget=opt.crash_budget)


def _meta(config: pytest.Config) -> RunMeta:
    opt = config.option
    meta: RunMeta = {"seed": opt.seed, "max_examples": opt.max_examples,
                     "command": shlex.join(getattr(sys, "orig_argv", None) or [Path(sys.argv[0]).name] + sys.argv[1:])}
    if opt.shard:
        meta["shard"] = "/".join(map(str, opt.shard))
    return meta


def _session(config: pytest.Config) -> RunSession:
    """This process's run session, started by the first spec file collected."""
    session = config.stash.get(_KEY, None)
    if session is None:
        worker_id = getattr(config, "workerinput", {}).get("workerid", "main")
        session = RunSession(_options(config), inside(_parts_dir(config), f"{worker_id}.json"), _meta(config))
        config.stash[_KEY] = session
    return session


_KEY = pytest.StashKey[RunSession]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a spec check item")
    if _is_worker(config) and config.workerinput.get("harness_loadgroup"):  # type: ignore[attr-defined]
        config.option.loadgroup = True  # xdist workers read it from their own command line, which lacks it
    if not _is_worker(config):
        _by_binding(config)
        config.stash[_STARTED] = time.time()
        config.stash[_RUN] = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker writes its part into the controller's run directory."""
    node.workerinput["harness_run"] = node.config.stash[_RUN]
    node.workerinput["harness_loadgroup"] = node.config.option.dist == "loadgroup"


def _parts_dir(config: pytest.Config) -> Path:
    run = config.workerinput["harness_run"] if _is_worker(config) else config.stash[_RUN]  # type: ignore[attr-defined]
    return Path(config.option.report_dir) / "parts" / run


_STARTED = pytest.StashKey[float]()
_RUN = pytest.StashKey[str]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and "specs" in file_path.parts:
        return SpecFile.from_parent(parent, path=file_path)
    return None


class SpecFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            spec = _session(self.config).load(self.path)
        except SourceError as exc:
            yield SpecErrorItem.from_parent(self, name="load", error=exc)
            return
        for b in spec.bindings:
            for check in registry.names():
                item = CheckItem.from_parent(self, name=f"{b.target}::{check}", spec=spec, target=b.target, check=check)
                item.add_marker(pytest.mark.xdist_group(spec.api))  # a spec's bindings run side by side: see `plan`
                item.add_marker(pytest.mark.conformance)
                yield item


class SpecErrorItem(pytest.Item):
    def __init__(self, *, error: SourceError, **kw: Any) -> None:
        super().__init__(**kw)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return f"bad spec: {self.error}"

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.error.line or 1) - 1, f"spec {self.path.name}"


class Discrepancies(Exception):
    pass


class CheckItem(pytest.Item):
    def __init__(self, *, spec: Spec, target: str, check: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.spec, self.target, self.check = spec, target, check

    def runtest(self) -> None:
        session = _session(self.config)
        framework = self.spec.binding(self.target).framework
        if framework not in session.pythons:
            pytest.skip(f"{framework} is not installed here (give --workers {framework}=PYTHON)")
        result = session.result(self.spec, self.target)
        if result.error:
            raise WorkerStartError(result.error)
        counts = result.counts.get(self.check, {})
        self.user_properties.append(("counts", json.dumps(counts, sort_keys=True)))
        findings = [f for f in result.findings if f.head.check == self.check]
        for f in findings:
            self.user_properties.append((f"finding {f.id}", f"{f.head.verdict} documented={f.head.documented}"))
        bad = [f for f in findings if not f.head.documented]
        if bad:
            raise Discrepancies("\n".join(
                f"{f.id} {f.head.verdict}: {f.head.message[:200] or _short(f)} (x{len(f.verdicts)}; region {_region(f)})"
                for f in bad))
        if not counts and registry.get(self.check).skip_when_empty:
            pytest.skip(result.notes.get(self.check) or f"no {self.check} cases applied to {self.target}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, Discrepancies):
            return f"undocumented discrepancies in {self.spec.api} {self.target} [{self.check}]:\n{excinfo.value}"
        if isinstance(excinfo.value, WorkerStartError):
            return f"harness could not run {self.target}: {excinfo.value}"
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.spec.line("frameworks", self.spec.binding(self.target).framework) or 1
        return self.path, line - 1, f"{self.spec.api}::{self.target}::{self.check}"


def _short(f: Any) -> str:
    return json.dumps(f.head.actual, default=str)[:160]


def _region(f: Any) -> str:
    return ", ".join(f"{k}={'|'.join(v)}" for k, v in f.region.items() if k != "values") or "everywhere"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run = config.stash.get(_KEY, None)
    if run is not None:
        run.close(finished=session.exitstatus != pytest.ExitCode.INTERRUPTED)
    if _is_worker(config):
        return
    report_dir = Path(config.option.report_dir)
    parts = sorted(_parts_dir(config).glob("*.json"))
    if not parts:
        return  # no spec ran in this session (e.g. `pytest tests`): leave the reports alone
    started = config.stash.get(_STARTED, time.time())
    meta: RunMeta = {**_meta(config), "started": round(started, 3), "seconds": round(time.time() - started, 3),
                     "missing_frameworks": run.missing if run is not None else discover(_workers(config))[1]}
    merged = merge(parts, meta)
    publish(merged, report_dir)
    config.stash[_MERGED] = merged
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and delta.harness_errors(merged):
        session.exitstatus = delta.HARNESS_ERROR  # 2, as `harness gate`: the run does not cover everything


_MERGED = pytest.StashKey[Report]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    merged = config.stash.get(_MERGED, None)
    if merged is None:
        return
    tr = terminalreporter
    tr.section("conformance findings")
    for line in text_table(merged).splitlines():
        tr.write_line(line)
    run = config.stash.get(_KEY, None)
    if run is not None and run.missing:
        tr.write_line(f"frameworks not installed here (skipped): {', '.join(run.missing)}")
    tr.write_line(f"report: {Path(config.option.report_dir) / 'index.html'}")
