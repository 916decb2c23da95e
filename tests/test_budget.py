"""The crash budget (harness/run/budget.py), through the FAKE framework: a region that keeps crashing is
sampled, re-checks never repeat a crash, restarts are bounded, and no finding is lost by it."""
from __future__ import annotations

import dataclasses
import html
import json
import sys

import pytest

from harness.files import write_atomic
from harness.report import html as report
from harness.report.results import merge, target_json
from harness.run.pipeline import Config, SpecRun, TargetRunner
from harness.run.pool import Pool

from .fake_framework import faulty
from .test_faults import FAKE, MEMORY, SPEC

CASES = 40  # about 13 faulty ones


@pytest.fixture
def pool(tmp_path):
    p = Pool({FAKE: sys.executable}, timeout=30, log_dir=tmp_path / "logs", memory=MEMORY, spares=True)
    yield p
    p.close()


def _runner(pool, fault, **config):
    run = SpecRun(SPEC, Config(max_examples=CASES, shrink_budget=10, **config))
    binding = dataclasses.replace(SPEC.binding(f"torch.fake.{fault}"), framework=FAKE)
    return TargetRunner(run, binding, pool)


def _faulty(runner):
    return sum(faulty(c.arrays["input"], False) for c in runner.spec_run.cases)


def test_a_region_that_keeps_crashing_is_sampled_and_says_so(pool):
    runner = _runner(pool, "segfault", crash_budget=2, crash_sample=3)
    result = runner.execute()
    bad = _faulty(runner)
    assert bad >= 8, "the drawn cases must crash often enough to spend the budget"
    crashes = result.counts["values"].get("crash", 0) + result.counts["values"].get("nondeterministic", 0)
    skipped = sum(n for (_, why), n in runner.budget.skipped.items() if why == "sampled")
    assert 2 <= crashes < bad
    # the whole region is sampled, healthy cases too; every case either has its verdict or is counted as not run
    assert sum(result.counts["values"].values()) + skipped == len(runner.spec_run.cases)
    note = result.notes["budget"]
    finite = runner.budget.skipped[(("values", (("values", "finite"),)), "sampled")]
    assert finite and f"{finite} cases of region values[values=finite] skipped after " in note
    assert "(1 in 3 run of the cases that look like one that crashed" in note


def test_no_finding_is_lost_to_the_budget(pool):
    ids = {}
    for budget in (0, 2):
        result = _runner(pool, "segfault", crash_budget=budget, crash_sample=3).execute()
        ids[budget] = {(f.id, f.head.check) for f in result.findings}
    assert ids[2] == ids[0] and ids[0]


def test_rechecks_never_repeat_a_crash_once_the_region_ran_out(pool):
    runner = _runner(pool, "segfault", crash_budget=2, crash_sample=3)
    runner.judge_cases(runner.spec_run.cases, recheck=True)
    crashed = [c for c in runner.spec_run.cases if faulty(c.arrays["input"], False)][:1]
    restarts = pool.ledgers["torch.fake.segfault"].restarts
    assert runner.call(crashed) == [None]  # not sent: it crashed before, and the region has spent its budget
    assert pool.ledgers["torch.fake.segfault"].restarts == restarts
    assert "re-checks of region values[values=finite] not run: the call had crashed" in runner.budget.notes()


def test_restarts_per_binding_are_bounded(pool):
    runner = _runner(pool, "segfault", crash_budget=50, restart_limit=3)
    result = runner.execute()
    assert "the binding's 3 worker restarts were spent" in result.notes["budget"]
    # past the bound only calls that look like none that crashed still run: far fewer restarts than faulty cases
    assert pool.ledgers["torch.fake.segfault"].restarts < _faulty(runner) / 2


def test_without_crashes_nothing_is_skipped(pool):
    runner = _runner(pool, "random", crash_budget=1)
    result = runner.execute()
    assert "budget" not in result.notes and not runner.budget.skipped


def test_the_report_says_what_was_not_run(pool, tmp_path):
    result = _runner(pool, "segfault", crash_budget=2, crash_sample=3).execute()
    part = tmp_path / "parts" / "main.json"
    write_atomic(part, json.dumps({"meta": {}, "frameworks": {}, "spec_errors": [], "missing": [],
                                   "targets": [target_json(SPEC, result)]}))
    merged = merge([part], {"seed": 1, "max_examples": CASES, "seconds": 1.0, "command": "harness run",
                            "missing_frameworks": []})
    (target,) = merged["targets"]
    assert target["notes"]["budget"] == result.notes["budget"]
    assert target["costs"]["restarts"] >= 2 and target["costs"]["calls"] > 0  # what the restarts cost is kept too
    # the phases after the checks: the harness's own seconds there, beside what the calls in them took
    assert target["costs"]["shrink_seconds"] >= 0 and target["costs"]["locate_seconds"] >= 0
    assert target["costs"]["shrink_seconds"] + target["costs"]["locate_seconds"] <= target["seconds"]
    report.write_html(merged, tmp_path / "index.html")
    assert "not run: " + html.escape(result.notes["budget"]) in (tmp_path / "index.html").read_text()
    assert f"not run in torch.fake.segfault ({SPEC.api}): {result.notes['budget']}" in report.text_table(merged)
