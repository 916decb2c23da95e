"""The numpy reference: a spec formula evaluated on a case in float64, and in the case's dtype."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.cases.case import Case
from harness.spec import dtypes
from harness.spec.formula import Formula
from harness.spec.vocabulary import Accumulation, Context


class Reference:
    """A formula's reference for one case, computed when first read (`todo`): a case whose call
    raises, as its rules say it must, is judged without it.

    `value` float64; `lowp` the same formula in the inputs' own dtype, widened (computed later still:
    most comparisons are decided without this rounding-noise term, see compare.compare);
    `accumulation` what its reductions summed; `error` why the formula failed on this case;
    `scale` the largest finite |element| among the float inputs.
    """

    __slots__ = ("_value", "_accumulation", "_error", "_scale", "_lowp", "_pending", "_todo")

    def __init__(self, todo: Callable[[Reference], None] | None = None) -> None:
        self._value: np.ndarray | None = None
        self._accumulation = Accumulation()
        self._error: str | None = None
        self._scale = 0.0
        self._lowp: np.ndarray | None = None
        self._pending: Callable[[], np.ndarray | None] | None = None
        self._todo = todo

    def _done(self) -> Reference:
        if self._todo is not None:
            self._todo(self)
            self._todo = None
        return self

    @property
    def value(self) -> np.ndarray | None:
        return self._done()._value

    @property
    def accumulation(self) -> Accumulation:
        return self._done()._accumulation

    @property
    def error(self) -> str | None:
        return self._done()._error

    @property
    def scale(self) -> float:
        return self._done()._scale

    @property
    def lowp(self) -> np.ndarray | None:
        self._done()
        if self._pending is not None:
            self._lowp, self._pending = self._pending(), None
        return self._lowp


def _env(case: Case, wide: bool) -> dict[str, Any]:
    env = case.env()
    if wide:
        env = dtypes.widened(env)
    return env


def evaluate(formula: Formula, case: Case, params: dict[str, Any] | None = None, *, later: bool = False,
             spent: Callable[[float], None] | None = None) -> Reference:
    """Evaluate `formula` for `case`; `params` overrides parameter values (e.g. a binding's defaults).
    With `later`, the evaluation happens when the reference is first read; `spent` is told what the
    float64 evaluation took (the run's cost accounting)."""
    def fill(ref: Reference) -> None:
        started = time.perf_counter()
        _fill(ref, formula, case, params)
        if spent is not None:
            spent(time.perf_counter() - started)

    ref = Reference(fill)
    return ref if later else ref._done()


def _fill(ref: Reference, formula: Formula, case: Case, params: dict[str, Any] | None) -> None:
    env = _env(case, wide=True)
    ref._scale = input_scale(case, env)
    ctx = Context()
    try:
        env.update(params or {})
        ref._value = unbatch(np.asarray(formula.evaluate(env, ctx), dtype=np.float64), case)
        ref._accumulation = ctx.accumulation
    except Exception as exc:  # a formula that cannot evaluate a case says so in the report
        ref._error = f"{type(exc).__name__}: {exc}"
        return
    if all(a is None or dtypes.name(a) == "float64" or not dtypes.is_float(dtypes.name(a)) for a in case.arrays.values()):
        ref._lowp = ref._value  # no float input narrower than float64: the same evaluation again
        return
    ref._pending = lambda: _lowp(formula, case, params)


def _lowp(formula: Formula, case: Case, params: dict[str, Any] | None) -> np.ndarray | None:
    try:
        env = _env(case, wide=False)
        env.update(params or {})
        return unbatch(np.asarray(formula.evaluate(env, Context()), dtype=np.float64), case)
    except Exception:
        return None


def unbatch(value: np.ndarray, case: Case) -> np.ndarray:
    """The formula's result (of the batched form, with a batch of 1) for an unbatched case: without the batch axis
    where the result kept it (reduction 'none': a loss's first axis)."""
    if case.unbatched and value.ndim and value.shape[0] == 1:
        return value[0]
    return value


def input_scale(case: Case, wide: dict[str, Any] | None = None) -> float:
    """The largest finite |element| of the case's float inputs (`wide`: the case's env already widened)."""
    scale = 0.0
    for k, a in case.arrays.items():
        if a is not None and a.size and dtypes.is_float(dtypes.name(a)):
            f = np.abs(wide[k] if wide is not None else dtypes.to_float64(a))
            top = float(f.max())
            if not math.isfinite(top):  # only then are there elements to leave out
                f = f[np.isfinite(f)]
                if not f.size:
                    continue
                top = float(f.max())
            scale = max(scale, top)
    return scale

