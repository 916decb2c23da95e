"""Reference gradients of a spec formula: forward mode in float64, one-sided at non-smooth points.

How a reference gradient is derived (README, "Gradients"):
1. The scalar is sum(result): the formula's result for the case's own reduction, summed (a no-op
   for 'mean' and 'sum'); frameworks differentiate the same scalar.
2. d scalar / d x for every element of input x comes from one forward-mode evaluation of the
   formula with dual numbers (`dual`), in float64 on the very values the framework received.
   There is no step size: the result is as exact as the float64 formula.
3. The same evaluation in the input's own dtype gives the rounding-noise estimate (for float64
   inputs: measured in float32, scaled by eps(float64)/eps(float32)), and the tangent reductions
   give the accumulation term, as for values (`compare`). A third evaluation propagates the
   magnitudes of the derivative's terms (|d||t| for products, |a| + |b| for sums): a framework may
   sum the same terms in another order or algebraic form, so its rounding is judged against
   4 eps times that magnitude, not against the possibly cancelled result.
4. Non-smooth points are found, not declared: the gradient is evaluated again at x shifted by
   +-delta along a fixed direction with distinct components (delta_k = 2^-40 |x_k|; for a zero
   element, 2^-40 times the smallest nonzero |value| of the case's inputs), bounded so that no shift
   crosses a threshold that is not exactly hit: every threshold the formula compares against (an
   ordering, the kinks of abs, maximum, minimum and clip) is measured at x, with how fast each
   element moves it, and delta_k shrinks until the probe moves none of them by more than half its
   distance (`_room`; without it, at x ~ 4e307 the shift moved d = input - target from 0 past
   Huber's |d| == delta and reported a kink where the loss is smooth; a delta below the spacing of
   x_k leaves x_k in place: nothing to probe there); an element whose gradient differs between the two is shifted alone, to
   each side, and its left and right derivatives are compared. Where they differ, the element is
   a kink: its expected gradient is the subgradient the spec states (left, right, mean, zero), and
   the one-sided values' own error (the change between steps delta and 2 delta) is their slack.
   Points where both sides agree (e.g. SmoothL1 at |d| == beta) are smooth and checked as such.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.cases.case import Case
from harness.judge import dual
from harness.spec import dtypes
from harness.spec.formula import Formula
from harness.spec.vocabulary import Accumulation, Context

STEP = 2.0 ** -40  # relative shift: moves an exact tie to one side (above float64 rounding), yet stays
#                   below the spacing of float32 values, so it cannot cross a threshold that is not exactly hit
KINK_RTOL = 1e-6  # one-sided derivatives further apart than this (relative) make a kink
MAX_KINKS = 16  # one-sided analysis per input and case: beyond this the rest are left unjudged
_DIRECTION = (np.sqrt(5.0) - 1) / 2  # golden-ratio sequence: distinct components, no two equal


@dataclass
class InputGradient:
    value: np.ndarray  # float64 gradient (at kinks: the formula's own rule; use left/right there)
    lowp: np.ndarray | None  # the same in the input's dtype, widened
    accumulation: Accumulation
    kinks: np.ndarray  # bool: elements where the left and right derivatives differ
    left: np.ndarray  # one-sided derivatives at kinks (nan elsewhere)
    right: np.ndarray
    slack: np.ndarray  # error estimate of the one-sided derivatives (0 elsewhere)
    unjudged: np.ndarray  # bool: candidate kinks beyond MAX_KINKS, not compared
    scale: float = 0.0  # largest finite |gradient element|: the tolerance's scale term
    terms: np.ndarray | None = None  # per element, the summed magnitude of the derivative's terms (dual.magnitudes)

    def side(self, name: str) -> np.ndarray:
        """The expected gradient at kinks for a documented subgradient choice."""
        if name == "left":
            return self.left
        if name == "right":
            return self.right
        if name == "mean":
            return (self.left + self.right) / 2
        if name == "min_norm":  # the subgradient of least magnitude: 0 when the sides differ in sign
            lo, hi = np.minimum(self.left, self.right), np.maximum(self.left, self.right)
            return np.where(lo > 0, lo, np.where(hi < 0, hi, 0.0))
        return np.zeros_like(self.left)


@dataclass
class GradientReference:
    inputs: dict[str, InputGradient] = field(default_factory=dict)
    error: str | None = None  # the formula could not be differentiated on this case
    method: str = "forward mode"  # or central differences, when the formula uses a function without a rule


def _wide(case: Case) -> dict[str, Any]:
    return dtypes.widened(case.env())


def _grad(formula: Formula, env: dict[str, Any], name: str, x: np.ndarray, ctx: Context,
          only: int | None = None) -> np.ndarray:
    """d sum(result) / d x, all elements, or only element `only` (one seed; the rest nan)."""
    if only is None:
        seeded = dual.seed(x)
    else:
        t = np.zeros((1, x.size), dtype=x.dtype)
        t[0, only] = 1
        seeded = dual.Dual(x, t.reshape((1,) + x.shape))
    result = formula.evaluate({**env, name: seeded}, ctx, vocab=dual.rules(ctx))
    g = dual.gradient(result, (seeded.seeds,), seeded.seeds, ctx)
    if only is None:
        return np.asarray(g, dtype=np.float64).reshape(x.shape)
    out = np.full(x.size, np.nan)
    out[only] = float(np.asarray(g, dtype=np.float64).reshape(-1)[0])
    return out.reshape(x.shape)


def derive(formula: Formula, case: Case, names: list[str]) -> GradientReference:
    """The reference gradient of sum(formula(case)) with respect to each input in `names`."""
    ref = GradientReference()
    wide = _wide(case)
    scale = _smallest(wide)
    for name in names:
        x = wide.get(name)
        if x is None:
            continue
        try:
            try:
                ref.inputs[name] = _derive_one(formula, case, wide, name, x, scale)
            except dual.NoRule as exc:
                ref.inputs[name] = _central_differences(formula, wide, name, x)
                ref.method = f"central differences ({exc})"
        except Exception as exc:  # the formula fails on this case: say so, judge nothing
            ref.error = f"{type(exc).__name__}: {exc}"
            return ref
    return ref


def _derive_one(formula: Formula, case: Case, wide: dict[str, Any], name: str, x: np.ndarray,
                scale: float) -> InputGradient:
    acc = Accumulation()
    g = _grad(formula, wide, name, x, Context(acc))
    lowp = _rounding_estimate(formula, case, name, g)
    with dual.magnitudes():
        terms = np.abs(_grad(formula, wide, name, x, Context()))
    with np.errstate(all="ignore"):
        finite = np.isfinite(x)
        magnitude = np.abs(np.where(finite, x, 0.0))
        delta = STEP * np.where(magnitude > 0, magnitude, scale)
        direction = 1.0 + (np.arange(x.size) * _DIRECTION % 1.0).reshape(x.shape)
        delta = delta * _room(formula, wide, name, x, np.where(finite, 2 * delta, 0.0))
        shift = np.where(finite, delta * direction, 0.0)
        up = _grad(formula, wide, name, x + shift, Context())
        down = _grad(formula, wide, name, x - shift, Context())
        candidates = finite & _apart(up, down)
    kinks = np.zeros(x.shape, bool)
    left, right = np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    slack = np.zeros(x.shape)
    unjudged = np.zeros(x.shape, bool)
    for i, k in enumerate(np.flatnonzero(candidates)):
        if i >= MAX_KINKS:
            unjudged.reshape(-1)[k] = True
            continue
        flat = np.zeros(x.size)
        flat[k] = delta.reshape(-1)[k]
        one = flat.reshape(x.shape)
        sides = [_grad(formula, wide, name, x + s * one, Context(), only=int(k)).reshape(-1)[k]
                 for s in (-1.0, -2.0, 1.0, 2.0)]
        lo, lo2, hi, hi2 = sides
        err = abs(lo - lo2) + abs(hi - hi2) if np.isfinite(sides).all() else 0.0
        # a side that is nan lies outside the formula's domain (e.g. log of a negative): a boundary,
        # not a kink; the formula's own value there stands
        if not np.isnan([lo, hi]).any() and _apart(np.asarray(lo), np.asarray(hi), err):
            idx = np.unravel_index(k, x.shape)
            kinks[idx], left[idx], right[idx], slack[idx] = True, lo, hi, err
    fin = np.abs(g[np.isfinite(g)])
    return InputGradient(g, lowp, acc, kinks, left, right, slack, unjudged, float(fin.max()) if fin.size else 0.0, terms)


def _room(formula: Formula, env: dict[str, Any], name: str, x: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Per element of x, the factor (at most 1) that keeps a probe of `reach` off every threshold it is not on.

    One evaluation records each threshold the formula compares against (`dual.margins`): its distance
    m_j and bounds T[k, j] on how fast element k moves it. Moving every element by up to reach_k moves
    threshold j by at most sum_k T[k, j] reach_k; where that exceeds m_j / 2, the elements that move it
    are scaled down so it does not. A threshold at distance 0 is exactly hit: that is the tie the probe
    is for, and it bounds nothing. Why: a relative shift stays below the spacing of x's own values, but
    not below the quantities the formula compares, e.g. d = input - target with both near 4e307,
    where the smallest shift of input moves d by more than any threshold of order 1.
    """
    with dual.magnitudes(), dual.margins() as seen:
        _grad(formula, env, name, x, Context())
    factor = np.ones(x.size)
    with np.errstate(all="ignore"):
        for gap, rate in seen.recorded:
            m = gap.reshape(-1)
            t = dual._flat(rate)
            t = np.where(np.isfinite(t), t, 0.0)
            moved = reach.reshape(-1) @ t  # per threshold: how far the probe can move it
            limit = np.where((m > 0) & np.isfinite(m) & (moved > m / 2), (m / 2) / moved, 1.0)
            per_seed = np.where(t > 0, limit[None, :], 1.0).min(axis=1, initial=1.0)
            factor = np.minimum(factor, per_seed)
    return factor.reshape(x.shape)


FD_STEP = 2.0 ** -17  # about eps^(1/3): balances truncation against rounding in float64


def _central_differences(formula: Formula, env: dict[str, Any], name: str, x: np.ndarray) -> InputGradient:
    """The fallback: Richardson-extrapolated central differences in float64, element by element.

    Step h_k = 2^-17 max(|x_k|, 2^-10). The estimate's own error (the change from step h to h/2,
    plus rounding of f over h) is its slack in the comparison; an element whose forward and backward
    differences disagree is within a step of a non-smooth point, and one where f is not finite
    nearby cannot be estimated: both are left unjudged.
    """
    def f(xs: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return float(np.sum(np.asarray(formula.evaluate({**env, name: xs}), dtype=np.float64)))

    flat = x.reshape(-1)
    g, slack = np.zeros(x.size), np.zeros(x.size)
    unjudged = np.zeros(x.size, bool)
    f0 = f(x)
    for k in range(x.size):
        if not np.isfinite(flat[k]) or not np.isfinite(f0):
            unjudged[k] = True
            continue
        h = FD_STEP * max(abs(flat[k]), 2.0 ** -10)
        vals = {}
        for s in (-1.0, -0.5, 0.5, 1.0):
            xs = flat.copy()
            xs[k] += s * h
            vals[s] = f(xs.reshape(x.shape))
        if not all(np.isfinite(v) for v in vals.values()):
            unjudged[k] = True
            continue
        wide, narrow = (vals[1.0] - vals[-1.0]) / (2 * h), (vals[0.5] - vals[-0.5]) / h
        forward, backward = (vals[0.5] - f0) / (h / 2), (f0 - vals[-0.5]) / (h / 2)
        g[k] = narrow + (narrow - wide) / 3
        slack[k] = abs(narrow - wide) + 8 * np.finfo(np.float64).eps * abs(f0) / h
        if abs(forward - backward) > 1e-3 * max(abs(forward), abs(backward)) + 8 * slack[k]:
            unjudged[k] = True  # a kink within the step: not estimated
    fin = np.abs(g[~unjudged])
    nan = np.full(x.shape, np.nan)
    return InputGradient(g.reshape(x.shape), None, Accumulation(), np.zeros(x.shape, bool), nan, nan.copy(),
                         slack.reshape(x.shape), unjudged.reshape(x.shape), float(fin.max()) if fin.size else 0.0)


def _rounding_estimate(formula: Formula, case: Case, name: str, g: np.ndarray) -> np.ndarray | None:
    """The gradient as the input's own dtype computes it: the rounding-noise term of the tolerance.

    float64 inputs have no lower precision of their own, so the noise is measured in float32 and
    scaled by eps(float64)/eps(float32): how much the formula amplifies rounding (cancellation,
    e.g. sigmoid(x) (1 + (w-1) y) - w y) carries over, at float64's size.
    """
    env = case.env()
    wide_input = dtypes.name(env[name]) == "float64"
    if wide_input:
        with np.errstate(over="ignore"):  # beyond float32's range: inf, as a float32 evaluation would have it
            env = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64 else v)
                   for k, v in env.items()}
    try:
        low = dtypes.to_float64(_grad(formula, env, name, np.asarray(env[name]), Context()))
    except Exception:
        return None
    if not wide_input:
        return low
    with np.errstate(all="ignore"):
        return g + (low - g) * (dtypes.eps("float64") / dtypes.eps("float32"))


def _smallest(env: dict[str, Any]) -> float:
    """The smallest nonzero finite |element| of the case's float inputs (1 if there is none)."""
    out = np.inf
    for v in env.values():
        if isinstance(v, np.ndarray) and v.dtype == np.float64 and v.size:
            a = np.abs(v[np.isfinite(v) & (v != 0)])
            if a.size:
                out = min(out, float(a.min()))
    return out if np.isfinite(out) else 1.0


def _apart(a: np.ndarray, b: np.ndarray, slack: Any = 0.0) -> np.ndarray:
    """Two derivative estimates that differ by more than the shift could explain."""
    with np.errstate(all="ignore"):
        gap = np.abs(a - b)
        limit = KINK_RTOL * (np.abs(a) + np.abs(b)) + 2 * np.asarray(slack) + 1e-300
        nan_differs = np.isnan(a) != np.isnan(b)
        return (np.isfinite(gap) & (gap > limit)) | nan_differs
