"""Re-runs (harness/judge/stability.py) on scripted outcomes: a stand-in for the worker (no framework) plays memory
nothing wrote, which repeats itself when a call runs again right after itself and changes after other calls."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.cases.case import Case, Outcome
from harness.judge.stability import Judged, recheck
from harness.judge.verdicts import Verdict
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "losses" / "huber_loss.yaml")
BINDING = SPEC.binding("mindspore.nn.HuberLoss")


def _case(n: int) -> Case:
    x = np.arange(n, dtype="float32")
    return Case("huber_loss", {"input": x, "target": x}, {"reduction": "mean", "delta": 1.0})


class _Memory:
    """An empty mean gives whatever the last non-empty call left behind (its size); others give 0."""

    def __init__(self) -> None:
        self.left = 7.0

    def __call__(self, cases: list[Case]) -> list[Outcome | None]:
        out: list[Outcome | None] = []
        for c in cases:
            if c.size:
                self.left = float(c.size)
            out.append(Outcome(value=np.asarray(self.left if not c.size else 0.0, "float32"), dtype="float32"))
        return out


def _judged(case: Case, value: float, finding: bool) -> Judged:
    verdict = "value" if finding else "match"
    v = Verdict(BINDING, case, "values", verdict, verdict, verdict)
    return Judged(case, Outcome(value=np.asarray(value, "float32"), dtype="float32"), [v])


def test_memory_nothing_wrote_shows_after_other_calls() -> None:
    memory = _Memory()
    empty = _case(0)
    judged = [_judged(_case(4), 0.0, False), _judged(_case(6), 0.0, False), _judged(empty, 7.0, True)]
    # the plain re-runs repeat the garbage (nothing ran between): only the calls in between show it
    out = recheck(judged, memory, lambda cases: [Outcome(value=np.asarray(7.0, "float32"), dtype="float32")] * len(cases))
    assert [v.verdict for v in out[2].verdicts] == ["nondeterministic"]
    assert "after another call" in out[2].verdicts[0].message


def test_a_stable_result_on_empty_input_stays_what_it_was() -> None:
    judged = [_judged(_case(4), 0.0, False), _judged(_case(0), 0.0, True)]
    out = recheck(judged, lambda cases: [Outcome(value=np.asarray(0.0, "float32"), dtype="float32")] * len(cases),
                  lambda cases: [Outcome(value=np.asarray(0.0, "float32"), dtype="float32")] * len(cases))
    assert [v.verdict for v in out[1].verdicts] == ["value"]
