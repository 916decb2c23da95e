"""One process's share of a conformance run: its worker pool, each spec's cases, each binding's
result, and the part file every finished binding is written to at once.

Why here and not in the pytest plugin: this is the pipeline's own state, whatever drives it. The
plugin only maps it onto pytest (collection, items passing or failing, xdist, shards).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from harness.judge import coverage
from harness.report import plots
from harness.report.results import (
    PartWriter,
    missing_json,
    spec_error_json,
    target_json,
)
from harness.report.schema import CoverageEntry, PartMeta, RunMeta
from harness.report.tables import api_json
from harness.run.pipeline import Config, SpecRun, TargetResult, TargetRunner
from harness.run.pool import Pool, WorkerStartError, discover
from harness.spec.model import Spec, claim_api, load_spec
from harness.spec.source import SourceError

ROOT = Path(__file__).resolve().parents[2]


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
        started: PartMeta = {**meta, "started": round(time.time(), 3)}  # what a killed run's report keeps
        self.part = PartWriter(part, started)

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

    def result(self, spec: Spec, target: str) -> TargetResult:
        """The binding's result, run on first request (the spec's cases drawn on its first binding)
        and written to the part file with its plots; a framework that cannot start is its `error`."""
        key = (spec.api, target)
        if key not in self.results:
            if spec.api not in self.spec_runs:
                run = self.spec_runs[spec.api] = SpecRun(spec, self.config)
                self.part.coverage[spec.api] = cast(CoverageEntry, coverage.of(spec, run.cases, run.gradients.summary(), run.pairs))
            binding = spec.binding(target)
            try:
                result = TargetRunner(self.spec_runs[spec.api], binding, self.pool).execute()
            except WorkerStartError as exc:
                result = TargetResult(binding, error=str(exc))
            self.results[key] = result
            self.part.frameworks.update(self.pool.versions())
            entry = target_json(spec, result)
            if spec.model.plots and not result.error:
                entry["plots"] = plots.measure(spec, binding, self.pool, self.options.seed)
            self.part.targets.append(entry)
            self.part.flush()
        return self.results[key]

    def close(self, finished: bool) -> None:
        """Mark the part `finished` unless the run was cut short (a part without it makes the report
        incomplete), write it if it holds anything, and stop the workers."""
        if finished:
            self.part.meta["finished"] = True
        if self.part.targets or self.part.spec_errors or self.part.missing:
            self.part.flush()
        self.pool.close()
