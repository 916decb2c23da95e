"""The defaults check on scripted outcomes: a stand-in for the runner (no framework; what a worker would send)
plays memory nothing wrote, whose content follows the order of calls, and a real default that differs."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.cases.case import Case, Outcome
from harness.checks.defaults import CHECK
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "losses" / "huber_loss.yaml")
TARGET = "mindspore.nn.HuberLoss"


@dataclass
class _SpecRun:
    spec: object
    cases: list[Case]


@dataclass
class _Runner:
    """Answers like a binding whose result with `reduction` omitted is `omitted_value(call number)`; 0.5 otherwise."""

    spec_run: _SpecRun
    binding: object
    omitted_value: object
    calls: int = 0
    seen: list[str] = field(default_factory=list)

    def call(self, cases: list[Case]) -> list[Outcome | None]:
        out: list[Outcome | None] = []
        for case in cases:
            self.calls += 1
            omitted = "reduction" in case.omit
            self.seen.append("o" if omitted else "e")
            value = self.omitted_value(self.calls) if omitted else 0.5
            out.append(Outcome(value=np.asarray(value, "float32"), dtype="float32"))
        return out


def _cases() -> list[Case]:
    x = np.ones((2, 3), "float32")
    return [Case("huber_loss", {"input": x, "target": x * 0}, {"reduction": "mean", "delta": 1.0})]


def _reduction_verdicts(omitted_value) -> tuple[list[str], _Runner]:
    run = _Runner(_SpecRun(SPEC, _cases()), SPEC.binding(TARGET), omitted_value)
    verdicts = [v for v in CHECK.verdicts(run) if v.subject == "reduction" and v.case is not None]  # type: ignore[arg-type]
    return [v.verdict for v in verdicts], run


def test_a_default_that_differs_every_time_is_a_default_that_differs():
    verdicts, run = _reduction_verdicts(lambda n: 0.25)
    assert verdicts == ["value"]
    assert run.seen.count("o") == 1 + 3  # called again, in both orders, before the difference is believed


def test_a_result_that_follows_the_order_of_calls_is_nondeterministic_not_a_default():
    # same result when the same calls repeat in the same order (e, o, e, o ...), another when the order changes
    verdicts, run = _reduction_verdicts(lambda n: 0.25 if n % 2 == 0 else 0.75)
    assert verdicts == ["nondeterministic"]
    assert run.seen[:4] == ["e", "o", "o", "e"]  # the first repeat calls the omitted form first


def test_a_pair_that_agrees_is_a_match_and_is_not_called_again():
    verdicts, run = _reduction_verdicts(lambda n: 0.5)
    assert verdicts == ["match"] and run.seen.count("o") == 1


def test_a_pair_where_a_call_kills_the_worker_is_a_crash_not_a_default():
    run = _Runner(_SpecRun(SPEC, _cases()), SPEC.binding(TARGET), lambda n: 0.25)
    calls = run.call

    def dying(cases):
        return [Outcome(crash="crash", error={"type": "WorkerDied"}) if "reduction" in c.omit else o
                for c, o in zip(cases, calls(cases))]
    run.call = dying  # type: ignore[method-assign]
    verdicts = [v for v in CHECK.verdicts(run) if v.subject == "reduction" and v.case is not None]
    assert [v.verdict for v in verdicts] == ["crash"] and "kills the worker" in verdicts[0].message
