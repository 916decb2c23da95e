"""The examples check: the documentation's printed examples (`cases/`) give the printed output."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from harness.cases.case import Case, Outcome, brief, jsonable
from harness.checks.base import BindingCheck, TableRow
from harness.judge.verdicts import Verdict, VerdictName
from harness.spec import dtypes
from harness.spec.model import BindingView

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner


class ExamplesCheck(BindingCheck):
    name = "examples"
    order = 60
    column = 5
    reproducer = "example"
    table = TableRow(5, "documentation examples")
    skip_when_empty = False  # a binding without a documented example has nothing to fail

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        cases = [c for c in run.spec_run.examples if not c.targets or run.binding.target in c.targets]
        return [judge_example(run.binding, c, o) for c, o in zip(cases, run.call(cases)) if o is not None]


CHECK = ExamplesCheck()


def judge_example(binding: BindingView, case: Case, outcome: Outcome) -> Verdict:
    """A documented example: the binding's output against the documented output at its printed precision."""
    expected = np.asarray(case.expected, dtype=np.float64) if case.expected is not None else None
    verdict: VerdictName = "match"
    message = ""
    if outcome.crash:
        verdict = outcome.crash
    elif not outcome.ok:
        verdict, message = "unexpected-error", f"{(outcome.error or {}).get('type')}: {(outcome.error or {}).get('message', '')[:300]}"
    elif expected is not None:
        actual = np.asarray(outcome.value, dtype=np.float64)
        tol = 0.5 * 10.0 ** -(case.decimals if case.decimals is not None else 4) + 4 * dtypes.eps(outcome.dtype or "float64")
        if actual.size != expected.size:
            verdict, message = "shape", f"shape {list(actual.shape)}, documented {list(expected.shape)}"
        elif not np.allclose(actual.reshape(expected.shape), expected, rtol=0, atol=tol, equal_nan=True):
            verdict, message = "value", f"documented {expected.tolist()}, got {actual.tolist()}"
    v = Verdict(binding, case, "examples", verdict, verdict, verdict, message=message, subject=case.origin,
                expected={"value": jsonable(case.expected), "source": case.note},
                actual=brief(outcome, kind=False))
    return v
