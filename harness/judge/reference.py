"""The numpy reference: a spec formula evaluated on a case in float64, and in the case's dtype."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.cases.case import Case
from harness.spec import dtypes
from harness.spec.formula import Formula
from harness.spec.vocabulary import Accumulation, Context


@dataclass
class Reference:
    value: np.ndarray | None = None  # float64
    accumulation: Accumulation = field(default_factory=Accumulation)
    error: str | None = None  # the formula itself failed on this case
    scale: float = 0.0  # largest finite |element| among the float inputs
    _lowp: np.ndarray | None = field(default=None, repr=False)
    _pending: Callable[[], np.ndarray | None] | None = field(default=None, repr=False)

    @property
    def lowp(self) -> np.ndarray | None:
        """The same formula in the inputs' own dtype, widened (evaluated on first use: most
        comparisons are decided without this rounding-noise term, see compare.compare)."""
        if self._pending is not None:
            self._lowp, self._pending = self._pending(), None
        return self._lowp

    @lowp.setter
    def lowp(self, value: np.ndarray | None) -> None:
        self._lowp, self._pending = value, None


def _env(case: Case, wide: bool) -> dict[str, Any]:
    env = case.env()
    if wide:
        env = dtypes.widened(env)
    return env


def evaluate(formula: Formula, case: Case, params: dict[str, Any] | None = None) -> Reference:
    """Evaluate `formula` for `case`; `params` overrides parameter values (e.g. a binding's defaults)."""
    env = _env(case, wide=True)
    ref = Reference(scale=input_scale(case, env))
    ctx = Context()
    try:
        env.update(params or {})
        ref.value = np.asarray(formula.evaluate(env, ctx), dtype=np.float64)
        ref.accumulation = ctx.accumulation
    except Exception as exc:  # a formula that cannot evaluate a case says so in the report
        ref.error = f"{type(exc).__name__}: {exc}"
        return ref
    if all(a is None or dtypes.name(a) == "float64" or not dtypes.is_float(dtypes.name(a)) for a in case.arrays.values()):
        ref.lowp = ref.value  # no float input narrower than float64: the same evaluation again
        return ref
    ref._pending = lambda: _lowp(formula, case, params)
    return ref


def _lowp(formula: Formula, case: Case, params: dict[str, Any] | None) -> np.ndarray | None:
    try:
        env = _env(case, wide=False)
        env.update(params or {})
        return np.asarray(formula.evaluate(env, Context()), dtype=np.float64)
    except Exception:
        return None


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


def holds(condition: Formula, case: Case, params: dict[str, Any] | None = None) -> bool:
    """A spec condition on a case; a condition that cannot be evaluated does not hold."""
    env = case.env()
    env.update(params or {})
    try:
        return bool(condition.evaluate(env))
    except Exception:
        return False
