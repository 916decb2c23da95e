"""Every framework fault the harness must survive, injected through a FAKE framework.

tests/fake_framework.py is a test fixture, never a real framework: each binding of
tests/data/faults/fake_double.yaml names one fault, which the fake commits on the cases whose input
size is a multiple of 3 and never on the others. For each fault the whole binding runs through the
real runner, worker pool and judge; the tests check the faulty cases' verdict, that every other
case still matches, and that every case drawn has its verdict (nothing measured is lost).
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cases.case import Case
from harness.files import write_atomic
from harness.report import html as report
from harness.report.results import merge, target_json
from harness.run.pipeline import Config, SpecRun, TargetRunner
from harness.run.pool import Pool
from harness.spec.model import load_spec

from .fake_framework import faulty

FAKE = "fake:tests.fake_framework"
DATA = Path(__file__).parent / "data"
SPEC = load_spec(DATA / "faults" / "fake_double.yaml")
CASES = 15  # about 5 faulty ones
MEMORY = 320 << 20  # the fake worker's memory limit in the tests (it starts at about 90 MB)
HANG = 3  # seconds: the time limit where a fault hangs; elsewhere a loaded machine gets 30


@pytest.fixture
def pool(tmp_path, request):
    hangs = "hang" in request.node.name
    p = Pool({FAKE: sys.executable}, timeout=HANG if hangs else 30, log_dir=tmp_path / "logs", memory=MEMORY)
    yield p
    p.close()


def _runner(pool, fault, cases=None, crash_budget=0):
    """A runner of the fault's binding; the crash budget off unless asked for (every faulty case runs)."""
    run = SpecRun(SPEC, Config(max_examples=CASES, shrink_budget=10, crash_budget=crash_budget))
    if cases is not None:
        run.cases = cases
    binding = dataclasses.replace(SPEC.binding(f"torch.fake.{fault}"), framework=FAKE)
    return TargetRunner(run, binding, pool)


def _by_case(runner):
    """Each drawn case's verdicts (recheck included), in case order."""
    verdicts = runner.judge_cases(runner.spec_run.cases, recheck=True)
    out = {id(c): [] for c in runner.spec_run.cases}
    for v in verdicts:
        out[id(v.case)].append(v)
    return [(c, out[id(c)]) for c in runner.spec_run.cases]


def injected(fault, cases):
    """Which cases the fault hits: a faulty input; for `flaky` only its first call, for `deferred` the next call."""
    flags = [faulty(c.arrays["input"], False) for c in cases]
    if fault == "flaky":
        seen: set = set()
        flags = [f and not (c.arrays["input"].tobytes() in seen or seen.add(c.arrays["input"].tobytes()))
                 for c, f in zip(cases, flags)]
    if fault == "deferred":
        flags = [False] + flags[:-1]
    return flags


def _split(by_case, fault=""):
    flags = injected(fault, [c for c, _ in by_case])
    bad = [(c, vs) for (c, vs), f in zip(by_case, flags) if f]
    good = [(c, vs) for (c, vs), f in zip(by_case, flags) if not f]
    assert bad and good, "the drawn cases must mix faulty and healthy inputs"
    return bad, good


def _main(vs):
    (main,) = [v for v in vs if v.check == "values"]
    return main


EXPECTED = {
    "segfault": ("crash", "SIGSEGV"),
    "abort": ("crash", "SIGABRT"),
    "hang": ("timeout", "no answer within"),
    "oom": ("memory", "MemoryError"),
    "bad_alloc": ("memory", "bad_alloc"),
    "html_error": ("unexpected-error", "<script>"),
    "unprintable": ("unexpected-error", "str() of _Unprintable failed"),
    "wrong_shape": ("shape", ""),
    "not_array": ("unexpected-error", "not a tensor"),
    "random": ("nondeterministic", "values differ"),
    "flaky": ("nondeterministic", "first call with this input failed"),
}


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_fault_gets_its_verdict_and_other_cases_are_intact(pool, fault):
    verdict, needle = EXPECTED[fault]
    by_case = _by_case(_runner(pool, fault))
    assert all(vs for _, vs in by_case), "every case drawn has a verdict"
    bad, good = _split(by_case, fault)
    for _case, vs in bad:
        main = _main(vs)
        assert main.verdict == verdict, (fault, main.verdict, main.message[:300])
        assert needle in main.message or needle in json.dumps(main.actual) + json.dumps(main.expected), main.message[:300]
    for _case, vs in good:
        assert [v.verdict for v in vs] == ["match"], (fault, [(v.verdict, v.message[:200]) for v in vs])


def test_wrong_dtype_is_a_dtype_verdict(pool):
    bad, good = _split(_by_case(_runner(pool, "wrong_dtype")))
    for _case, vs in bad:
        (d,) = [v for v in vs if v.check == "dtypes"]
        assert d.verdict == "dtype" and d.actual == {"dtype": "float16"}
    assert all([v.verdict for v in vs] == ["match"] for _, vs in good)


def test_an_error_raised_on_the_next_call_is_not_pinned_on_that_call(pool):
    """The deferred fault returns normally and makes the call after it fail, as asynchronous runtimes do."""
    sizes = [1, 3, 1, 2, 3, 4, 5, 7]  # the size-3 calls leave an error behind for the next call
    cases = [Case(SPEC.api, {"input": np.arange(n, dtype=np.float32)}, {}) for n in sizes]
    by_case = _by_case(_runner(pool, "deferred", cases))
    verdicts = [[v.verdict for v in vs] for _, vs in by_case]
    assert verdicts == [["match"], ["match"], ["nondeterministic"], ["match"], ["match"], ["nondeterministic"],
                        ["match"], ["match"]]
    message = by_case[2][1][0].message
    assert "did not recur" in message and "call before it" in message and "shapes {'input': [3]}" in message


def test_a_whole_binding_with_crashes_keeps_every_verdict_in_its_report(pool, tmp_path):
    """execute() end to end: counts cover every case, findings name the crash, the HTML escapes it."""
    results = {}
    for fault in ("segfault", "html_error", "random"):
        runner = _runner(pool, fault)
        result = runner.execute()
        cases = len(runner.spec_run.cases)
        # every generated case has a values or raises verdict (gradients, the fake has none, are counted apart)
        assert sum(sum(c.values()) for k, c in result.counts.items() if k not in ("signature", "gradients")) == cases
        assert result.counts["signature"] == {"match": 1}
        results[fault] = (runner, result)
    assert results["segfault"][1].counts["values"]["crash"] == sum(
        faulty(c.arrays["input"], False) for c in results["segfault"][0].spec_run.cases)
    part = tmp_path / "parts" / "main.json"
    write_atomic(part, json.dumps({"meta": {}, "frameworks": {}, "spec_errors": [], "missing": [],
                                   "targets": [target_json(SPEC, r) for _, r in results.values()]}))
    merged = merge([part], {"seed": 1, "max_examples": CASES, "seconds": 1.0, "command": "harness run",
                            "missing_frameworks": []})
    verdicts = {f["verdict"] for f in merged["findings"]}
    assert {"crash", "unexpected-error", "nondeterministic"} <= verdicts
    html_error = next(f for f in merged["findings"] if f["verdict"] == "unexpected-error")
    assert len(html_error["message"]) <= 500 and "\x1b" not in json.dumps(merged)
    report.write_html(merged, tmp_path / "index.html")
    html = (tmp_path / "index.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html and "\x1b" not in html
    assert "&lt;script&gt;" in html


def test_a_framework_message_is_cut_and_its_control_characters_spelled_out(pool):
    bad, _ = _split(_by_case(_runner(pool, "html_error")))
    err = _main(bad[0][1]).actual
    assert err["error"] == "ValueError" and len(err["message"]) <= 2000
    assert "\\x1b[31m" in err["message"] and "\x1b" not in err["message"] and "\x07" not in err["message"]
