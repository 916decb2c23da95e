"""The precision-growth check: each `y: error` plot of the spec (a reduction's relative error against its size)
becomes a verdict per panel, with a threshold per dtype.

The threshold is the worst-case relative error of pairwise summation, eps(dtype) * log2(n) for n elements: what
summing in a tree (numpy's, and the blocked loops of most kernels) guarantees. A binding whose error at some size
exceeds it sums in a way whose error grows faster with n (a running sum grows like eps * n), which no doc states
and a model's loss over a large batch shows. The cases are the plot's own, drawn from a fixed seed: the verdict
is the same in every run.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.cases.case import Case, Outcome, brief
from harness.cases.plots import cases, documented_dtypes, panels
from harness.checks.base import BindingCheck, TableRow
from harness.judge.reference import evaluate
from harness.judge.verdicts import Verdict, VerdictName, explain
from harness.spec import dtypes

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner

SEED = 0x9105  # the plots' cases for this check: fixed, so every run judges the same calls


def relative_error(case: Case, outcome: Outcome | None, formula: Any) -> float | None:
    """The largest relative error of the outcome's elements against the float64 reference (None: no comparison)."""
    if outcome is None or not outcome.ok:
        return None
    ref = evaluate(formula, case).value
    if ref is None or np.shape(outcome.value) != np.shape(ref):  # type: ignore[arg-type]
        return None
    with np.errstate(all="ignore"):
        a, e = np.asarray(dtypes.to_float64(outcome.value), dtype=np.float64), np.asarray(ref, dtype=np.float64)
        rel = np.abs(a - e) / np.maximum(np.abs(e), 1e-300)
    return float(np.max(rel)) if rel.size and np.isfinite(rel).all() else None


def bound(dtype: str, n: int) -> float:
    """Pairwise summation's worst-case relative error for n elements of `dtype`."""
    return dtypes.eps(dtype) * max(1.0, math.log2(max(n, 2)))


class PrecisionGrowthCheck(BindingCheck):
    name = "precision-growth"
    order = 57
    column = 10
    table = TableRow(10, "error growth with size")

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        spec, b = run.spec_run.spec, run.binding
        verdicts = []
        for index, plot in enumerate(spec.model.plots):
            if plot.y != "error":
                continue
            for params, row in zip(panels(plot), cases(spec, index, SEED)):
                row = [documented_dtypes(b, c) for c in row]
                outcomes = run.call(row)
                formula = b.formula or spec.formula
                errors = [relative_error(c, o, formula) for c, o in zip(row, outcomes)]
                judged = [(c, o, e) for c, o, e in zip(row, outcomes, errors) if o is not None and e is not None]
                if not judged:
                    continue
                over = [(c, o, e) for c, o, e in judged if e > bound(o.dtype or plot.dtype, _elements(c))]
                case, outcome, error = over[-1] if over else judged[-1]
                n = _elements(case)
                limit = bound(outcome.dtype or plot.dtype, n)
                verdict: VerdictName = "value" if over else "match"
                subject = plot.title + (" [" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + "]" if params else "")
                curve = ", ".join(f"{_elements(c)}: {e:.2g}" for c, _, e in judged)
                v = Verdict(b, case, self.name, verdict, verdict, verdict, subject=subject,
                            message="" if not over else
                            (f"relative error {error:.3g} at {n} elements, above eps*log2(n) = {limit:.3g} "
                             f"({outcome.dtype}, pairwise summation's worst case); by size: {curve}"),
                            expected={"bound": limit}, actual={**brief(outcome, kind=False), "relative error": error},
                            metrics={"errors": {str(_elements(c)): e for c, _, e in judged}, "bound": limit})
                explain(v, None, None, [])
                verdicts.append(v)
        return verdicts

    def table_text(self, api: dict[str, object], binding: dict[str, object]) -> str:
        return "within eps*log2(n)"

    def empty_note(self, run: TargetRunner) -> str | None:
        return "the spec has no `y: error` plot" if not any(p.y == "error" for p in run.spec_run.spec.model.plots) else None


def _elements(case: Case) -> int:
    """The size of the case's largest input: the n its reduction sums over, at most."""
    return max((a.size for a in case.arrays.values() if a is not None), default=0)


CHECK = PrecisionGrowthCheck()
