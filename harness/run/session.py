"""One process's share of a conformance run: its worker pool, each spec's cases, each binding's
result, and the part file every finished binding is written to at once.

Why here and not in the pytest plugin: this is the pipeline's own state, whatever drives it. The
plugin only maps it onto pytest (collection, items passing or failing, xdist, shards).
"""
from __future__ import annotations

import ast
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from harness.judge import coverage
from harness.report import plots
from harness.report.results import (
    PartWriter,
    missing_json,
    spec_error_json,
    target_json,
)
from harness.report.schema import CoverageEntry, PartMeta, PartTarget, RunMeta
from harness.report.tables import api_json
from harness.run.pipeline import Config, SpecRun, TargetResult, TargetRunner, settle_heap
from harness.run.pool import Pool, WorkerStartError, discover
from harness.spec.model import Spec, claim_api, load_spec
from harness.spec.source import SourceError

ROOT = Path(__file__).resolve().parents[2]
MAX_LANES = 64  # threads at most; one per binding of the spec being run is made, and kept for the next spec
LANE_SWITCH = 0.0005  # seconds: the interpreter's switch interval while lanes run (Python's default is 0.005)


@dataclass(frozen=True)
class RunOptions:
    """What the command line asks of a run, parsed; the same in every process of the run."""

    seed: int  # of the explored cases
    max_examples: int  # generated cases per spec
    workers: dict[str, str]  # framework -> python as configured; empty: the frameworks importable here
    case_timeout: float  # seconds one call may take
    memory_limit: int  # bytes each worker process may allocate; 0: no limit
    recheck: bool  # re-run cases to detect nondeterministic results
    report_dir: Path
    cases_dir: Path  # checked-in cases: doc examples and replayed regressions
    crash_budget: int = 3  # crashes or hangs of a finding region before its cases are sampled (0: never)


class RunSession:
    """The pipeline state of one process: specs loaded, cases drawn once per spec, bindings run once.

    Every spec loaded and every binding finished goes into this process's part file, rewritten
    atomically, so a run killed midway still leaves every finished binding readable.
    """

    def __init__(self, options: RunOptions, part: Path, meta: RunMeta) -> None:
        self.options = options
        self.pythons, self.missing = discover(options.workers)  # frameworks to run; known ones missing here
        self.config = Config(seed=options.seed, max_examples=options.max_examples, cases_dir=options.cases_dir,
                             recheck=options.recheck, crash_budget=options.crash_budget)
        self.pool = Pool(self.pythons, timeout=options.case_timeout, log_dir=options.report_dir / "logs",
                         memory=options.memory_limit, spares=options.recheck)
        self.apis: dict[str, Path] = {}  # api name -> the spec file that defines it
        self.spec_runs: dict[str, SpecRun] = {}
        self.results: dict[tuple[str, str], TargetResult] = {}
        self._raised: dict[tuple[str, str], BaseException] = {}  # a binding whose run raised: each of its items fails
        self._planned: dict[str, list[str]] = {}  # api -> its bindings this process runs, in order (see `plan`)
        self._order: list[Spec] = []  # the planned specs, in order
        self._draw_ahead = False  # draw the next planned spec's cases while the lanes run (`plan`)
        started: PartMeta = {**meta, "started": round(time.time(), 3)}  # what a killed run's report keeps
        self.part = PartWriter(part, started)
        # the lanes' threads, kept from spec to spec: hypothesis sets up each new thread that shrinks with a full
        # garbage collection and a search of the heap (its per-thread PRNG registration), seconds per run
        self._threads = ThreadPoolExecutor(max_workers=MAX_LANES, thread_name_prefix="lane")

    def load(self, path: Path) -> Spec:
        """The spec in `path`, its api claimed for this file; raises SourceError (recorded in the part
        file as a spec error) when it does not load or another file already defines its api."""
        try:
            spec = load_spec(path)
            claim_api(spec, self.apis)
        except SourceError as exc:
            self.part.spec_errors.append(spec_error_json(exc))
            self.part.flush()
            raise
        self.part.apis[spec.api] = api_json(spec, ROOT, self.options.seed)
        missing = missing_json(spec)
        if missing:
            self.part.missing.extend(missing)
            self.part.flush()
        return spec

    def plan(self, bindings: list[tuple[Spec, str]], draw_ahead: bool = True) -> None:
        """The bindings this process may run, in order (in a run of one process, all of them; under xdist, every
        binding collected, of which it runs the specs it is handed). Each spec's bindings then run side by side in
        lanes, one per binding, and with `draw_ahead` the next spec's cases are drawn meanwhile (see `_run_lanes`)."""
        self._planned.clear()
        self._order.clear()
        self._draw_ahead = draw_ahead
        for spec, target in bindings:
            if spec.binding(target).framework not in self.pythons:
                continue  # its items skip
            if spec.api not in self._planned:
                self._planned[spec.api] = []
                self._order.append(spec)
            if target not in self._planned[spec.api]:
                self._planned[spec.api].append(target)

    def result(self, spec: Spec, target: str) -> TargetResult:
        """The binding's result, run on first request (the spec's cases drawn on its first binding)
        and written to the part file with its plots; a framework that cannot start is its `error`."""
        key = (spec.api, target)
        if key not in self.results and key not in self._raised:
            planned = self._planned.get(spec.api, [])
            if target in planned and len(planned) > 1:
                self._run_lanes(spec, planned)
            else:
                self._record(spec, target, self._execute(spec, target))
            settle_heap()  # nothing runs now; what is new since the last call is mostly the cases drawn meanwhile
        if key in self._raised:
            raise self._raised[key]
        return self.results[key]

    def _spec_run(self, spec: Spec) -> SpecRun:
        """The spec's cases, drawn on first use."""
        if spec.api not in self.spec_runs:
            run = SpecRun(spec, self.config)
            self.part.coverage[spec.api] = cast(CoverageEntry, coverage.of(spec, run.cases, run.gradients.summary(), run.pairs))
            self.spec_runs[spec.api] = run
        return self.spec_runs[spec.api]

    def _execute(self, spec: Spec, target: str, lane: str = "") -> tuple[TargetResult, PartTarget]:
        """One binding run, with its plots: the part entry it adds. In a lane, its workers are closed after it."""
        binding = spec.binding(target)
        try:
            try:
                result = TargetRunner(self._spec_run(spec), binding, self.pool, lane).execute()
            except WorkerStartError as exc:
                result = TargetResult(binding, error=str(exc))
            entry = target_json(spec, result)
            if spec.model.plots and not result.error:
                entry["plots"] = plots.measure(spec, binding, self.pool, self.options.seed, lane)
        finally:
            if lane:
                self.pool.release(lane)
        return result, entry

    def _record(self, spec: Spec, target: str, done: tuple[TargetResult, PartTarget] | BaseException) -> None:
        if isinstance(done, BaseException):
            self._raised[(spec.api, target)] = done  # each item of the binding fails with it
            return
        self.results[(spec.api, target)] = done[0]
        self.part.frameworks.update(self.pool.versions())
        self.part.targets.append(done[1])
        self.part.flush()

    def _run_lanes(self, spec: Spec, targets: list[str]) -> None:
        """The spec's bindings side by side, one lane (thread) per binding.

        Why: calls run in the frameworks' processes, so while one lane waits on MindSpore's slow calls, another
        judges torch's, and two of MindSpore's bindings use both cores; one binding at a time, a run waits on its
        workers most of the time. Each lane has worker processes of its own, for its calls and for its peers'
        answers (Pool.get, SpecRun.lane), started from the framework's fork server and closed when it ends: what
        each process is sent, and in which order, is fixed by the lane's own binding, never by how far another
        lane has come. Results go to the part file in plan order, from this thread."""
        self._spec_run(spec)  # drawn before the lanes start: they share it

        def lane(target: str) -> tuple[TargetResult, PartTarget] | BaseException:
            try:
                return self._execute(spec, target, target)
            except Exception as exc:  # the binding's items fail with it; the other lanes go on
                return exc

        switch = sys.getswitchinterval()
        sys.setswitchinterval(LANE_SWITCH)  # a lane woken by its worker's reply gets the interpreter soon
        try:
            with _serial_ast():
                futures = {target: self._threads.submit(lane, target) for target in targets}
                self._draw_next(spec)
                done = {target: future.result() for target, future in futures.items()}
        finally:
            sys.setswitchinterval(switch)
        for target in targets:
            self._record(spec, target, done[target])

    def _draw_next(self, spec: Spec) -> None:
        """Draw the cases of the planned spec after `spec` (while the lanes wait on their workers); a spec that
        fails to draw does so again, in its own turn."""
        later = self._order[self._order.index(spec) + 1:] if spec in self._order and self._draw_ahead else []
        if later:
            try:
                self._spec_run(later[0])
            except Exception:
                pass

    def close(self, finished: bool) -> None:
        """Mark the part `finished` unless the run was cut short (a part without it makes the report
        incomplete), write it if it holds anything, and stop the workers."""
        if finished:
            self.part.meta["finished"] = True
        if self.part.targets or self.part.spec_errors or self.part.missing:
            self.part.flush()
        self._threads.shutdown(cancel_futures=True)
        self.pool.close()


_AST_LOCK = threading.Lock()


@contextmanager
def _serial_ast() -> Iterator[None]:
    """`ast.parse` one thread at a time meanwhile: CPython 3.11 builds AST objects with state shared by the whole
    interpreter, and two threads parsing at once can fail with "SystemError: AST constructor recursion depth
    mismatch" (python/cpython#106905; hypothesis and pytest parse source too)."""
    original = ast.parse

    def parse(*args: Any, **kwargs: Any) -> Any:
        with _AST_LOCK:
            return original(*args, **kwargs)

    ast.parse = parse
    try:
        yield
    finally:
        ast.parse = original
