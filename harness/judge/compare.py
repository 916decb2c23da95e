"""The tolerance policy, in one place, and the comparison of an actual value with the reference.

Policy (also in README.md):
- The reference is the spec formula evaluated in float64 on the very values the framework got
  (inputs already rounded to their dtype), so input rounding is never counted as error.
- nan must meet nan and ±inf the same ±inf; a finite reference beyond the output dtype's range
  may be met by the same-signed inf. Signed zeros compare equal (no loss here documents a sign).
- A finite element matches when |actual - expected| <= rtol*|expected| + atol, with
  rtol = 4 eps(dtype) and atol the sum of
    2 |expected - lowp|   rounding noise: the same formula evaluated in the dtype itself;
                          it covers cancellation, e.g. d - beta/2 near the threshold,
    (log2 n + 2) eps M    accumulation: n terms folded into one element, M the sum of their
                          magnitudes (pairwise or wider accumulators meet this; naive low-precision
                          running sums over large n may not, and are reported),
    4 eps S               the scale of the computation: S the largest finite |input| element
                          (a log-sum-exp or difference of inputs of size S is only as exact as S),
    4 tiny(dtype)         flush of subnormals to zero.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from harness.spec import dtypes
from harness.spec.vocabulary import Accumulation

RTOL_EPS = 4.0
NOISE_FACTOR = 2.0
TINY_FACTOR = 4.0
SCALE_FACTOR = 4.0


@dataclass(eq=False)
class Comparison:
    """The outcome of one comparison; its error metrics and tolerance are computed when first read.

    Why lazy: a match is almost never shown, and its metrics (and the rounding-noise reference they
    may need) cost more than deciding the verdict.
    """

    verdict: Literal["match", "value", "shape"]
    mismatched: int = 0
    total: int = 0
    mask: np.ndarray | None = None  # True where an element differs
    _details: Callable[[], tuple[float, float, float, str]] | None = field(default=None, repr=False)
    _known: tuple[float, float, float, str] = (0.0, 0.0, 0.0, "")

    def _resolve(self) -> tuple[float, float, float, str]:
        if self._details is not None:
            self._known, self._details = self._details(), None
        return self._known

    @property
    def max_abs(self) -> float:
        return self._resolve()[0]

    @property
    def max_rel(self) -> float:
        return self._resolve()[1]

    @property
    def max_ulp(self) -> float:
        return self._resolve()[2]

    @property
    def tolerance(self) -> str:
        return self._resolve()[3]

    def metrics(self) -> dict[str, Any]:
        return {"mismatched": self.mismatched, "total": self.total, "max_abs": _num(self.max_abs),
                "max_rel": _num(self.max_rel), "max_ulp": _num(self.max_ulp), "tolerance": self.tolerance}


def _num(x: float) -> Any:
    return x if math.isfinite(x) else str(x)


def _floor(dtype: str, scale: float) -> float:
    """The subnormal-flush and input-scale terms of atol."""
    return TINY_FACTOR * dtypes.tiny(dtype) + SCALE_FACTOR * dtypes.eps(dtype) * scale


def _accumulated(dtype: str, acc: Accumulation) -> float:
    """The accumulation term of atol (0 without a reduction of more than one term)."""
    return (math.log2(acc.count) + 2) * dtypes.eps(dtype) * acc.magnitude if acc.count > 1 else 0.0


def atol_for(dtype: str, expected: np.ndarray, lowp: np.ndarray | None, acc: Accumulation,
             scale: float = 0.0) -> np.ndarray:
    atol = np.full(np.shape(expected), _floor(dtype, scale))
    if lowp is not None and np.shape(lowp) == np.shape(expected):
        noise = np.abs(expected - lowp)
        atol = atol + NOISE_FACTOR * np.where(np.isfinite(noise), noise, 0.0)
    return atol + _accumulated(dtype, acc)


_NONE_BAD = np.zeros((), bool)  # the mask of a scalar that matches (masks are only read)
_NONE_BAD.flags.writeable = False

Lowp = np.ndarray | Callable[[], np.ndarray | None] | None
"""The rounding-noise reference, or how to compute it (it is only needed when the rest of the tolerance is not enough)."""


def compare(actual: np.ndarray, expected: np.ndarray, dtype: str, lowp: Lowp = None,
            acc: Accumulation | None = None, scale: float = 0.0) -> Comparison:
    """Compare an actual value (any float dtype, widened here) with the float64 reference.

    The noise term only widens the tolerance (it is >= 0, and rounded sums are monotone), so an
    output within the tolerance without it is a match whatever the noise: the low-precision
    reference is then never evaluated, unless the match's metrics are read.
    """
    acc = acc or Accumulation()
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return Comparison("shape", total=int(e.size), _known=(0.0, 0.0, 0.0, f"shape {list(a.shape)} vs {list(e.shape)}"))
    eps = dtypes.eps(dtype)

    def full_atol() -> np.ndarray:
        return atol_for(dtype, e, lowp() if callable(lowp) else lowp, acc, scale)

    margin = _floor(dtype, scale) + _accumulated(dtype, acc)  # atol_for's terms but noise: the first test's atol
    if not e.ndim:  # a scalar (most losses reduce): the same first test in Python floats, the same IEEE operations
        fa, fe = float(a), float(e)
        fdiff = abs(fa - fe)
        if math.isfinite(fdiff) and fdiff <= RTOL_EPS * eps * abs(fe) + margin:
            return Comparison("match", 0, 1, _NONE_BAD, lambda: _details(a, e, np.abs(a - e), _NONE_BAD, dtype, full_atol()))
    with np.errstate(all="ignore"):
        diff = np.abs(a - e)
        rtol = RTOL_EPS * eps * np.abs(e)
        # where a - e is finite both are: the finite test alone decides (the nan, inf and overflow rules add nothing)
        if np.isfinite(diff).all():
            if (diff <= rtol + margin).all():
                bad = np.zeros(e.shape, bool)
                return Comparison("match", 0, int(e.size), bad, lambda: _details(a, e, diff, bad, dtype, full_atol()))
        atol = full_atol()
        finite = np.isfinite(e)
        overflow = finite & (np.abs(e) > dtypes.max_value(dtype)) & np.isinf(a) & (np.sign(a) == np.sign(e))
        ok_finite = finite & np.isfinite(a) & (diff <= rtol + atol)
        ok = ok_finite | (np.isnan(e) & np.isnan(a)) | (np.isinf(e) & (a == e)) | overflow
        bad = ~ok
    return Comparison("value" if bad.any() else "match", int(bad.sum()), int(e.size), bad,
                      _known=_details(a, e, diff, bad, dtype, atol))


def _details(a: np.ndarray, e: np.ndarray, diff: np.ndarray, bad: np.ndarray, dtype: str,
             atol: np.ndarray) -> tuple[float, float, float, str]:
    """max abs, rel and ulp errors over the elements finite on both sides, and the tolerance applied."""
    eps, tiny = dtypes.eps(dtype), dtypes.tiny(dtype)
    tolerance = f"rtol={RTOL_EPS:g} eps({dtype}) + atol (max {float(atol.max()) if atol.size else 0:.3g})"
    max_abs = max_rel = max_ulp = 0.0
    with np.errstate(all="ignore"):
        both_finite = np.isfinite(e) & np.isfinite(a)
        if (bad & ~both_finite).any():
            return math.inf, math.inf, math.inf, tolerance
        if both_finite.any():
            ulp = eps * np.exp2(np.floor(np.log2(np.maximum(np.abs(e), tiny))))
            rel = diff / np.maximum(np.abs(e), tiny)
            max_abs = float(diff[both_finite].max())
            max_rel = float(rel[both_finite].max())
            max_ulp = float((diff / ulp)[both_finite].max())
    return max_abs, max_rel, max_ulp, tolerance


def same_result(a: np.ndarray, b: np.ndarray) -> bool:
    """Two results of one framework are the same: equal shape, and equal values (nan equal to nan)."""
    return np.shape(a) == np.shape(b) and bool(np.array_equal(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                                                equal_nan=True))
