"""The whitelisted numpy vocabulary that spec formulas may call.

Every function here preserves the dtype of its floating inputs, so one formula can be
evaluated in float64 (the reference) and in a framework's low precision (a rounding-noise
estimate used by the tolerance policy). Nothing outside this table is reachable from a formula.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import dtypes

#: Largest array a formula may create or index into; keeps a formula's evaluation bounded.
MAX_ELEMENTS = 10_000_000


class FormulaRuntimeError(Exception):
    """A formula did something its vocabulary refuses at run time (e.g. a huge shape)."""


@dataclass
class Accumulation:
    """What the reductions of one evaluation summed: the tolerance policy scales with it."""

    count: int = 1  # most elements folded into one output element
    magnitude: float = 0.0  # largest sum of |terms| behind one output element, after scaling

    def record(self, x: np.ndarray, out: np.ndarray, scale: float = 1.0) -> None:
        n = max(1, x.size // max(1, np.size(out)))
        with np.errstate(all="ignore"):
            mag = float(np.nansum(np.abs(np.asarray(x, dtype=np.float64)))) * scale
        self.count = max(self.count, n)
        if math.isfinite(mag):
            self.magnitude = max(self.magnitude, mag)


@dataclass
class Context:
    accumulation: Accumulation = field(default_factory=Accumulation)


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x)


def _check_size(shape: Any) -> tuple[int, ...]:
    dims = (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)
    if any(d < 0 for d in dims) or math.prod(dims) > MAX_ELEMENTS:
        raise FormulaRuntimeError(f"shape {dims} is outside the formula limit of {MAX_ELEMENTS} elements")
    return dims


def _float_like(x: np.ndarray) -> np.dtype:
    return x.dtype if x.dtype.kind == "f" or dtypes.name(x) == "bfloat16" else np.dtype(np.float64)


def _log_softmax(x: Any, axis: int = -1) -> np.ndarray:
    x = _arr(x)
    if x.size == 0:
        return x.copy()
    m = np.max(x, axis=axis, keepdims=True)
    shifted = x - np.where(np.isfinite(m), m, 0).astype(x.dtype)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _softmax(x: Any, axis: int = -1) -> np.ndarray:
    return np.exp(_log_softmax(x, axis))


def _one_hot(indices: Any, num: int) -> np.ndarray:
    idx = _arr(indices).astype(np.int64)
    _check_size(idx.shape + (int(num),))
    return (idx[..., None] == np.arange(int(num))).astype(np.float64)


def _take(x: Any, indices: Any) -> np.ndarray:
    x, idx = _arr(x), _arr(indices).astype(np.int64)
    return np.take(x, np.clip(idx, 0, max(0, x.size - 1))) if x.size else np.zeros(idx.shape, x.dtype)


def _broadcastable(*arrays: Any) -> bool:
    try:
        np.broadcast_shapes(*(_arr(a).shape for a in arrays))
        return True
    except ValueError:
        return False


def _dtype(x: Any) -> str:
    return dtypes.name(x)


def _reductions(ctx: Context) -> dict[str, Callable[..., Any]]:
    """The vocabulary entries that record into an evaluation context."""

    def _sum(x: Any, axis: Any = None) -> np.ndarray:
        x = _arr(x)
        out = np.sum(x, axis=_axis(axis))
        ctx.accumulation.record(x, out)
        return out

    def _mean(x: Any, axis: Any = None) -> np.ndarray:
        x = _arr(x)
        out = np.mean(x, axis=_axis(axis)) if x.size else np.array(np.nan, _float_like(x))
        ctx.accumulation.record(x, out, 1.0 / max(1, x.size // max(1, np.size(out))))
        return out

    def _reduce(x: Any, reduction: str) -> np.ndarray:
        if reduction == "none":
            return _arr(x)
        if reduction == "sum":
            return _sum(x)
        if reduction == "mean":
            return _mean(x)
        raise FormulaRuntimeError(f"reduce() takes 'none', 'sum' or 'mean', not {reduction!r}")

    return {"sum": _sum, "mean": _mean, "reduce": _reduce}


def _ones(shape: Any, like: Any = None) -> np.ndarray:
    dtype = _float_like(_arr(like)) if like is not None else np.float64
    return np.ones(_check_size(shape), dtype)


def _zeros(shape: Any, like: Any = None) -> np.ndarray:
    dtype = _float_like(_arr(like)) if like is not None else np.float64
    return np.zeros(_check_size(shape), dtype)


def make_vocabulary(ctx: Context) -> dict[str, Callable[..., Any]]:
    """The callable vocabulary bound to one evaluation context."""
    return {**_STATIC, **_reductions(ctx)}


_STATIC: dict[str, Callable[..., Any]] = {
    # elementwise math
    "abs": np.abs,
    "sqrt": np.sqrt,
    "square": np.square,
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "tanh": np.tanh,
    "sign": np.sign,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "clip": np.clip,
    "where": np.where,
    "isnan": np.isnan,
    "isinf": np.isinf,
    "isfinite": np.isfinite,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_not": np.logical_not,
    # reductions: sum, mean and reduce are recorded for the tolerance policy (`_reductions`)
    "amax": lambda x, axis=None: np.max(_arr(x), axis=_axis(axis)),
    "amin": lambda x, axis=None: np.min(_arr(x), axis=_axis(axis)),
    "any": lambda x: bool(np.any(x)),
    "all": lambda x: bool(np.all(x)),
    # softmax family
    "log_softmax": _log_softmax,
    "softmax": _softmax,
    # indexing and shape
    "one_hot": _one_hot,
    "take": _take,
    "take_along_axis": lambda x, idx, axis: np.take_along_axis(_arr(x), _arr(idx).astype(np.int64), int(axis)),
    "expand_dims": lambda x, axis: np.expand_dims(_arr(x), int(axis)),
    "squeeze": lambda x, axis: np.squeeze(_arr(x), int(axis)),
    "moveaxis": lambda x, src, dst: np.moveaxis(_arr(x), int(src), int(dst)),
    "reshape": lambda x, shape: np.reshape(_arr(x), _check_size(shape)),
    "broadcast_to": lambda x, shape: np.broadcast_to(_arr(x), _check_size(shape)),
    "shape": lambda x: tuple(_arr(x).shape),
    "broadcastable": _broadcastable,
    "ndim": lambda x: _arr(x).ndim,
    "size": lambda x: int(_arr(x).size),
    "ones": _ones,
    "zeros": _zeros,
    "ones_like": lambda x: np.ones_like(_arr(x)),
    "zeros_like": lambda x: np.zeros_like(_arr(x)),
    "astype_like": lambda x, like: _arr(x).astype(_float_like(_arr(like))),
    # scalars and types
    "dtype": _dtype,
    "is_float": lambda x: _arr(x).dtype.kind == "f" or _arr(x).dtype.name == "bfloat16",
    "is_int": lambda x: _arr(x).dtype.kind in "iu",
    "float": float,
    "int": int,
    "bool": bool,
    "len": len,
    "min": min,
    "max": max,
}


def _axis(axis: Any) -> Any:
    if axis is None or isinstance(axis, int):
        return axis
    return tuple(int(a) for a in axis)


#: Names of constants a formula may use.
CONSTANTS: dict[str, Any] = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}

#: Every name a formula may call, for load-time validation (the context does not change the names).
NAMES: frozenset[str] = frozenset(make_vocabulary(Context())) | frozenset(CONSTANTS)

_SCRATCH = Context()  # where the reductions of an evaluation without a context record; never read
_BASE: dict[str, Any] = {**CONSTANTS, **make_vocabulary(_SCRATCH)}


def scope(ctx: Context | None) -> dict[str, Any]:
    """A fresh evaluation scope: the constants and the vocabulary, reductions bound to `ctx`."""
    out = dict(_BASE)
    if ctx is not None:
        out.update(_reductions(ctx))
    return out
