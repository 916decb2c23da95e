"""pytest collection of specs as test items: `specs/**/*.yaml` -> one item per (binding, check).

pytest's own pattern for non-Python test files, so `-k`, `-x`, `--junitxml` and xdist work as
usual. Every item of one binding shares one run of that binding (computed by whichever item
comes first); an item fails when its check found a discrepancy the docs do not explain.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from harness.judge import coverage
from harness.gate import delta
from harness.report import plots
from harness.report import html as report
from harness.report.tables import api_json
from harness.files import inside
from harness.report.results import PartWriter, merge, missing_json, spec_error_json, target_json
from harness.files import write_atomic
from harness.run.pipeline import Config, SpecRun, TargetResult, TargetRunner
from harness.checks import registry
from harness.spec.model import Spec, load_spec
from harness.run.pool import ENV_VAR, Pool, WorkerStartError, discover, parse_memory, parse_pythons
from harness.spec.source import SourceError

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness", "conformance harness")
    g.addoption("--seed", type=int, default=20261121, help="seed of the explored cases (same seed, same cases); the core cases and replayed regressions "
                "do not depend on it")
    g.addoption("--max-examples", type=int, default=150, help="generated cases per spec: two thirds from the fixed core (the same for every seed), "
                "one third explored with --seed")
    g.addoption("--workers", action="append", default=[],
                help=f"framework pythons, NAME=PYTHON[,...] (default: ${ENV_VAR}, else the frameworks installed here)")
    g.addoption("--case-timeout", type=float, default=60.0, help="seconds one call may take before it is a timeout")
    g.addoption("--memory-limit", default="auto",
                help="memory each framework process may allocate, e.g. 4G; `auto`: half the machine's; 0: no limit")
    g.addoption("--no-recheck", action="store_true",
                help="do not re-run cases to detect nondeterministic results (faster, less trustworthy)")
    g.addoption("--report-dir", default=str(ROOT / "reports"), help="where report.json and index.html go")
    g.addoption("--cases-dir", default=str(ROOT / "cases"), help="checked-in cases (doc examples, regressions)")
    g.addoption("--shard", type=_shard, default=None, metavar="I/N",
                help="run the I-th of N deterministic shares of the bindings (CI matrices); "
                     "merge the shards' reports with `harness report --merge DIR ...`")


def _by_binding(config: pytest.Config) -> None:
    """`-n N` alone distributes by binding (xdist's loadgroup): the items of one binding share one run,
    and plain `load` would split them across processes that each run the binding again. Done at
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


class Harness:
    """Per-process state: the worker pool, spec runs, finished bindings, and the part file."""

    def __init__(self, config: pytest.Config) -> None:
        opt = config.option
        self.pythons, self.missing = _frameworks(config)
        self.report_dir = Path(opt.report_dir)
        self.run_config = Config(seed=opt.seed, max_examples=opt.max_examples, cases_dir=Path(opt.cases_dir),
                                 recheck=not opt.no_recheck)
        self.pool = Pool(self.pythons, timeout=opt.case_timeout, log_dir=self.report_dir / "logs",
                         memory=parse_memory(opt.memory_limit), spares=not opt.no_recheck)
        self.apis: dict[str, Path] = {}  # api name -> the spec file that defines it
        self.spec_runs: dict[str, SpecRun] = {}
        self.results: dict[tuple[str, str], TargetResult] = {}
        worker_id = getattr(config, "workerinput", {}).get("workerid", "main")
        self.meta = {**_meta(config), "started": round(time.time(), 3)}  # what a killed run's report keeps
        self.part = PartWriter(inside(_parts_dir(config), f"{worker_id}.json"), self.meta)

    def result(self, spec: Spec, target: str) -> TargetResult:
        key = (spec.api, target)
        if key not in self.results:
            if spec.api not in self.spec_runs:
                run = self.spec_runs[spec.api] = SpecRun(spec, self.run_config)
                self.part.coverage[spec.api] = coverage.of(spec, run.cases, run.gradients.summary())
            binding = spec.binding(target)
            try:
                result = TargetRunner(self.spec_runs[spec.api], binding, self.pool).execute()
            except WorkerStartError as exc:
                result = TargetResult(binding, error=str(exc))
            self.results[key] = result
            self.part.frameworks.update(self.pool.versions())
            entry = target_json(spec, result)
            if spec.model.plots and not result.error:
                entry["plots"] = plots.measure(spec, binding, self.pool, self.run_config.seed)
            self.part.targets.append(entry)
            self.part.flush()
        return self.results[key]


def _frameworks(config: pytest.Config) -> tuple[dict[str, str], list[str]]:
    """Frameworks to run (name -> python) and the known ones missing, from --workers or the environment."""
    return discover(parse_pythons(config.option.workers or os.environ.get(ENV_VAR, "")))


def _meta(config: pytest.Config) -> dict[str, Any]:
    opt = config.option
    meta = {"seed": opt.seed, "max_examples": opt.max_examples,
            "command": shlex.join(getattr(sys, "orig_argv", None) or [Path(sys.argv[0]).name] + sys.argv[1:])}
    if opt.shard:
        meta["shard"] = "/".join(map(str, opt.shard))
    return meta


def _harness(config: pytest.Config) -> Harness:
    h = config.stash.get(_KEY, None)
    if h is None:
        h = Harness(config)
        config.stash[_KEY] = h
    return h


_KEY = pytest.StashKey[Harness]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a spec check item")
    if _is_worker(config) and config.workerinput.get("harness_loadgroup"):
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
    run = config.workerinput["harness_run"] if _is_worker(config) else config.stash[_RUN]
    return Path(config.option.report_dir) / "parts" / run


_STARTED = pytest.StashKey[float]()
_RUN = pytest.StashKey[str]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Collector]:
    if file_path.suffix in (".yaml", ".yml") and "specs" in file_path.parts:
        return SpecFile.from_parent(parent, path=file_path)
    return None


class SpecFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        h = _harness(self.config)
        try:
            spec = load_spec(self.path)
            first = h.apis.setdefault(spec.api, self.path)
            if first != self.path:
                raise SourceError(self.path, spec.line("api"), f"api {spec.api!r} is already defined in {first}",
                                  "give each spec its own api name")
        except SourceError as exc:
            h.part.spec_errors.append(spec_error_json(exc))
            h.part.flush()
            yield SpecErrorItem.from_parent(self, name="load", error=exc)
            return
        h.part.apis[spec.api] = api_json(spec, ROOT, self.config.option.seed)
        if missing_json(spec):
            h.part.missing.extend(missing_json(spec))
            h.part.flush()
        for b in spec.bindings:
            for check in registry.names():
                item = CheckItem.from_parent(self, name=f"{b.target}::{check}", spec=spec, target=b.target, check=check)
                item.add_marker(pytest.mark.xdist_group(f"{spec.api}:{b.target}"))
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

    def reportinfo(self) -> tuple[Path, Optional[int], str]:
        return self.path, (self.error.line or 1) - 1, f"spec {self.path.name}"


class Discrepancies(Exception):
    pass


class CheckItem(pytest.Item):
    def __init__(self, *, spec: Spec, target: str, check: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.spec, self.target, self.check = spec, target, check

    def runtest(self) -> None:
        h = _harness(self.config)
        framework = self.spec.binding(self.target).framework
        if framework not in h.pythons:
            pytest.skip(f"{framework} is not installed here (give --workers {framework}=PYTHON)")
        result = h.result(self.spec, self.target)
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
        return str(super().repr_failure(excinfo, style))  # type: ignore[arg-type]

    def reportinfo(self) -> tuple[Path, Optional[int], str]:
        line = self.spec.line("frameworks", self.spec.binding(self.target).framework) or 1
        return self.path, line - 1, f"{self.spec.api}::{self.target}::{self.check}"


def _short(f: Any) -> str:
    return json.dumps(f.head.actual, default=str)[:160]


def _region(f: Any) -> str:
    return ", ".join(f"{k}={'|'.join(v)}" for k, v in f.region.items() if k != "values") or "everywhere"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    h = config.stash.get(_KEY, None)
    if h is not None:
        if session.exitstatus != pytest.ExitCode.INTERRUPTED:
            h.part.meta["finished"] = True  # a part without it is from a run killed or interrupted midway
        if h.part.targets or h.part.spec_errors or h.part.missing:
            h.part.flush()
        h.pool.close()
    if _is_worker(config):
        return
    report_dir = Path(config.option.report_dir)
    parts = sorted(_parts_dir(config).glob("*.json"))
    if not parts:
        return  # no spec ran in this session (e.g. `pytest tests`): leave the reports alone
    started = config.stash.get(_STARTED, time.time())
    meta = _meta(config)
    meta.update(started=round(started, 3), seconds=round(time.time() - started, 3),
                missing_frameworks=h.missing if h else _frameworks(config)[1])
    merged = merge(parts, meta)
    write_atomic(report_dir / "report.json", json.dumps(merged, indent=1, sort_keys=True))
    report.write_html(merged, report_dir / "index.html")
    config.stash[_MERGED] = merged
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and delta.harness_errors(merged):
        session.exitstatus = delta.HARNESS_ERROR  # 2, as `harness gate`: the run does not cover everything


_MERGED = pytest.StashKey[dict]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    merged = config.stash.get(_MERGED, None)
    if merged is None:
        return
    tr = terminalreporter
    tr.section("conformance findings")
    for line in report.text_table(merged).splitlines():
        tr.write_line(line)
    h = config.stash.get(_KEY, None)
    if h is not None and h.missing:
        tr.write_line(f"frameworks not installed here (skipped): {', '.join(h.missing)}")
    tr.write_line(f"report: {Path(config.option.report_dir) / 'index.html'}")
