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
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from harness.spec import dtypes
from harness.spec.vocabulary import Accumulation

RTOL_EPS = 4.0
NOISE_FACTOR = 2.0
TINY_FACTOR = 4.0
SCALE_FACTOR = 4.0


@dataclass
class Comparison:
    verdict: Literal["match", "value", "shape"]
    mismatched: int = 0
    total: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    max_ulp: float = 0.0
    tolerance: str = ""
    mask: np.ndarray | None = None  # True where an element differs

    def metrics(self) -> dict[str, Any]:
        return {"mismatched": self.mismatched, "total": self.total, "max_abs": _num(self.max_abs),
                "max_rel": _num(self.max_rel), "max_ulp": _num(self.max_ulp), "tolerance": self.tolerance}


def _num(x: float) -> Any:
    return x if math.isfinite(x) else str(x)


def atol_for(dtype: str, expected: np.ndarray, lowp: np.ndarray | None, acc: Accumulation,
             scale: float = 0.0) -> np.ndarray:
    eps = dtypes.eps(dtype)
    atol = np.full(np.shape(expected), TINY_FACTOR * dtypes.tiny(dtype) + SCALE_FACTOR * eps * scale)
    if lowp is not None and np.shape(lowp) == np.shape(expected):
        noise = np.abs(expected - lowp)
        atol = atol + NOISE_FACTOR * np.where(np.isfinite(noise), noise, 0.0)
    if acc.count > 1:
        atol = atol + (math.log2(acc.count) + 2) * eps * acc.magnitude
    return atol


def compare(actual: np.ndarray, expected: np.ndarray, dtype: str, lowp: np.ndarray | None = None,
            acc: Accumulation | None = None, scale: float = 0.0) -> Comparison:
    """Compare an actual value (any float dtype, widened here) with the float64 reference."""
    acc = acc or Accumulation()
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return Comparison("shape", total=int(e.size), tolerance=f"shape {list(a.shape)} vs {list(e.shape)}")
    eps = dtypes.eps(dtype)
    with np.errstate(all="ignore"):
        atol = atol_for(dtype, e, lowp, acc, scale)
        diff = np.abs(a - e)
        finite = np.isfinite(e)
        limit = dtypes.max_value(dtype)
        overflow = finite & (np.abs(e) > limit) & np.isinf(a) & (np.sign(a) == np.sign(e))
        ok_finite = finite & np.isfinite(a) & (diff <= RTOL_EPS * eps * np.abs(e) + atol)
        ok_nan = np.isnan(e) & np.isnan(a)
        ok_inf = np.isinf(e) & (a == e)
        ok = ok_finite | ok_nan | ok_inf | overflow
        bad = ~ok
        ulp = eps * np.exp2(np.floor(np.log2(np.maximum(np.abs(e), dtypes.tiny(dtype)))))
        rel = diff / np.maximum(np.abs(e), dtypes.tiny(dtype))
        both_finite = finite & np.isfinite(a)
    out = Comparison("value" if bad.any() else "match", int(bad.sum()), int(e.size), mask=bad,
                     tolerance=f"rtol={RTOL_EPS:g} eps({dtype}) + atol (max {float(atol.max()) if atol.size else 0:.3g})")
    if both_finite.any():
        out.max_abs = float(diff[both_finite].max())
        out.max_rel = float(rel[both_finite].max())
        out.max_ulp = float((diff / ulp)[both_finite].max())
    if (bad & ~both_finite).any():
        out.max_abs = out.max_rel = out.max_ulp = math.inf
    return out


def same_result(a: np.ndarray, b: np.ndarray) -> bool:
    """Two results of one framework are the same: equal shape, and equal values (nan equal to nan)."""
    return np.shape(a) == np.shape(b) and bool(np.array_equal(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                                                equal_nan=True))
