"""The precision-growth check: each `y: error` plot of the spec (a reduction's relative error against its size)
becomes a verdict per panel, with a threshold per dtype.

The threshold is the worst-case relative error of pairwise summation, eps(dtype) * log2(n) for n elements: what
summing in a tree (numpy's, and the blocked loops of most kernels) guarantees. A binding whose error at some size
exceeds it sums in a way whose error grows faster with n (a running sum grows like eps * n), which no doc states
and a model's loss over a large batch shows. The cases are the plot's own, drawn from a fixed seed: the verdict
is the same in every run; the error judged at each size is the median of three draws.
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

SEEDS = (0x9105, 0x9106, 0x9107)  # the plots' cases for this check, drawn three times from fixed seeds: every run
#                                   judges the same calls, and the median error of three draws is no one draw's luck


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
    no_script = ("precision-growth findings get no script yet: their cases hold a million elements; the relative "
                 "errors by size above are the measurement")

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        spec, b = run.spec_run.spec, run.binding
        formula = b.formula or spec.formula
        verdicts = []
        for index, plot in enumerate(spec.model.plots):
            if plot.y != "error":
                continue
            drawn = [cases(spec, index, seed) for seed in SEEDS]  # per seed: per panel, a row of cases over x
            for p, params in enumerate(panels(plot)):
                rows = [[documented_dtypes(b, c) for c in by_seed[p]] for by_seed in drawn]
                outcomes = [run.call(row) for row in rows]
                measured = []  # per x: its cases, the first seed's outcome, and the median error over the seeds
                for k, case in enumerate(rows[0]):
                    errors = [relative_error(row[k], got[k], formula) for row, got in zip(rows, outcomes)]
                    known = [e for e in errors if e is not None]
                    first = outcomes[0][k]
                    if first is not None and len(known) == len(SEEDS):
                        measured.append((case, first, float(np.median(known))))
                if not measured:
                    continue
                over = [(c, o, e) for c, o, e in measured if e > bound(o.dtype or plot.dtype, _elements(c))]
                case, outcome, error = over[-1] if over else measured[-1]
                n = _elements(case)
                limit = bound(outcome.dtype or plot.dtype, n)
                verdict: VerdictName = "value" if over else "match"
                subject = plot.title + (" [" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + "]" if params else "")
                curve = ", ".join(f"{_elements(c)}: {e:.2g}" for c, _, e in measured)
                v = Verdict(b, case, self.name, verdict, verdict, verdict, subject=subject,
                            message="" if not over else
                            (f"relative error {error:.3g} at {n} elements (median of {len(SEEDS)} draws), above "
                             f"eps*log2(n) = {limit:.3g} ({outcome.dtype}, pairwise summation's worst case); "
                             f"by size: {curve}"),
                            expected={"bound": limit}, actual={**brief(outcome, kind=False), "relative error": error},
                            metrics={"errors": {str(_elements(c)): e for c, _, e in measured}, "bound": limit})
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
