"""The whitelisted numpy vocabulary that spec formulas may call.

Every function here preserves the dtype of its floating inputs, so one formula can be
evaluated in float64 (the reference) and in a framework's low precision (a rounding-noise
estimate used by the tolerance policy). Nothing outside this table is reachable from a formula.
"""
from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.spec import dtypes

#: Largest array a formula may create or index into; keeps a formula's evaluation bounded.
MAX_ELEMENTS = 10_000_000
#: Python-level loop steps one call may take (ctc_nll's recursion; shapes and axes given as sequences).
MAX_LOOP_STEPS = 200_000
MAX_RANK = 32


class FormulaRuntimeError(Exception):
    """A formula did something its vocabulary refuses at run time (e.g. a huge shape)."""


@dataclass
class Accumulation:
    """What the reductions of one evaluation summed: the tolerance policy scales with it."""

    count: int = 1  # most elements folded into one output element
    magnitude: float = 0.0  # largest sum of |terms| behind one output element, after scaling

    def record(self, x: np.ndarray, out: np.ndarray, scale: float = 1.0) -> None:
        n = max(1, x.size // max(1, np.size(out)))
        # no errstate of its own: reductions record inside Formula.evaluate's, which ignores every float error
        terms = np.abs(np.asarray(x, dtype=np.float64))
        total = np.add.reduce(terms, axis=None)  # what nansum sums when no term is nan (its copy adds the cost)
        if total != total:  # a sum of |terms| is nan only when a term is
            total = np.nansum(terms)
        mag = float(total) * scale
        self.count = max(self.count, n)
        if math.isfinite(mag):
            self.magnitude = max(self.magnitude, mag)


@dataclass
class Context:
    accumulation: Accumulation = field(default_factory=Accumulation)


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x)


def _check_size(shape: Any) -> tuple[int, ...]:
    if np.size(shape) > MAX_RANK:
        raise FormulaRuntimeError(f"a shape of {np.size(shape)} dims is over the limit of {MAX_RANK}")
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

    return {"sum": _sum, "mean": _mean, "reduce": _reduce, **distance_and_sequence_ops(ctx)}


def _scalars(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Python's min/max for scalars and short tuples; over an array they would loop in Python."""

    def call(*args: Any) -> Any:
        if any(isinstance(a, np.ndarray) and a.size > 1 for a in args):
            raise FormulaRuntimeError(f"{fn.__name__}() takes scalars; use a{fn.__name__} or {fn.__name__}imum for arrays")
        return fn(*args)

    return call


def _ones(shape: Any, like: Any = None) -> np.ndarray:
    dtype = _float_like(_arr(like)) if like is not None else np.float64
    return np.ones(_check_size(shape), dtype)


def _zeros(shape: Any, like: Any = None) -> np.ndarray:
    dtype = _float_like(_arr(like)) if like is not None else np.float64
    return np.zeros(_check_size(shape), dtype)


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "float": (float,), "int": (int,), "bool": (bool,), "str": (str,), "none": (type(None),),
    "list": (list,), "tuple": (tuple,),
}


def _instance_of(x: Any, *names: str) -> bool:
    """Whether a parameter's value is an instance of one of the named Python types, as a framework's type
    validation tests it ("TypeError: If margin is not a float"): a bool is not an int or a float unless
    'bool' is named; numpy scalars are what isinstance says (numpy.float64 is a float, numpy.float32 is not)."""
    unknown = [n for n in names if n not in _PY_TYPES]
    if unknown or not names:
        raise FormulaRuntimeError(f"instance_of takes type names among {', '.join(_PY_TYPES)}; got {names!r}")
    if isinstance(x, (bool, np.bool_)):
        return "bool" in names and isinstance(x, bool)
    return any(isinstance(x, _PY_TYPES[n]) for n in names)


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
    "instance_of": _instance_of,
    "float": float,
    "int": int,
    "bool": bool,
    "len": len,
    "min": _scalars(min),
    "max": _scalars(max),
}


def _axis(axis: Any) -> Any:
    if axis is None or isinstance(axis, int):
        return axis
    if np.size(axis) > MAX_RANK:
        raise FormulaRuntimeError(f"an axis list of {np.size(axis)} entries is over the limit of {MAX_RANK}")
    return tuple(int(a) for a in axis)


# --- distances, log-space sums and CTC (margin/embedding/sequence losses) ---------------------------
# numpy semantics, dtype preserving like everything above; reductions record their accumulation.


def distance_and_sequence_ops(ctx: Context) -> dict[str, Callable[..., Any]]:
    """p-norms and the distances built on them, log-space sums, and the CTC negative log-likelihood."""

    def norm(x: Any, p: float = 2.0, axis: Any = -1, keepdims: bool = False) -> np.ndarray:
        x = np.abs(_arr(x))
        ax = _axis(axis)
        if p == math.inf:
            return np.max(x, axis=ax, keepdims=keepdims, initial=0).astype(x.dtype)
        if p == 0:
            return np.sum(x != 0, axis=ax, keepdims=keepdims).astype(_float_like(x))
        terms = x ** x.dtype.type(p) if x.dtype.kind == "f" else x ** p
        total = np.sum(terms, axis=ax, keepdims=keepdims)
        ctx.accumulation.record(terms, total)
        return total ** total.dtype.type(1.0 / p) if total.dtype.kind == "f" else total ** (1.0 / p)

    def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, axis: Any = -1,
                          keepdims: bool = False) -> np.ndarray:
        """||x1 - x2 + eps||_p along `axis` (the eps inside the norm, as torch documents it)."""
        diff = _arr(x1) - _arr(x2)
        return norm(diff + diff.dtype.type(eps) if diff.dtype.kind == "f" else diff + eps, p, axis, keepdims)

    def cosine_similarity(x1: Any, x2: Any, axis: Any = -1, eps: float = 0.0) -> np.ndarray:
        """x1.x2 / (max(||x1||, eps) * max(||x2||, eps)); with eps 0 a zero vector gives nan."""
        a, b = _arr(x1), _arr(x2)
        dot = np.sum(a * b, axis=_axis(axis))
        ctx.accumulation.record(a * b, dot)
        n1, n2 = norm(a, 2.0, axis), norm(b, 2.0, axis)
        floor = np.asarray(eps, dtype=_float_like(np.asarray(dot)))
        return dot / (np.maximum(n1, floor) * np.maximum(n2, floor))

    def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        x = _arr(x)
        ax = _axis(axis)
        if x.size == 0:
            return np.log(np.sum(np.exp(x), axis=ax, keepdims=keepdims))
        top = np.max(x, axis=ax, keepdims=True)
        top = np.where(np.isfinite(top), top, 0).astype(x.dtype)
        total = np.sum(np.exp(x - top), axis=ax, keepdims=True)
        with np.errstate(divide="ignore"):
            out = np.log(total) + top
        ctx.accumulation.record(x, out)
        return out if keepdims else np.squeeze(out, axis=ax)

    def ctc_nll(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, blank: int = 0) -> np.ndarray:
        """Per-sample CTC negative log-likelihood: -log of the summed probability of every alignment.

        log_probs (T, N, C) (or (T, C) unbatched); targets padded (N, S) or concatenated (sum of
        target_lengths,). The alpha recursion runs in log space in log_probs' own dtype; an
        impossible alignment gives +inf.
        """
        lp = _arr(log_probs)
        unbatched = lp.ndim == 2
        if unbatched:
            lp = lp[:, None, :]
        tgt = _arr(targets).astype(np.int64)
        in_len = np.atleast_1d(_arr(input_lengths).astype(np.int64))
        tg_len = np.atleast_1d(_arr(target_lengths).astype(np.int64))
        t_max, batch, classes = lp.shape
        if t_max * batch > MAX_LOOP_STEPS:
            raise FormulaRuntimeError(f"ctc_nll: {batch} samples of {t_max} steps are over the limit of {MAX_LOOP_STEPS} steps")
        if unbatched:
            tgt = tgt.reshape(1, -1)
        starts = np.concatenate([[0], np.cumsum(tg_len)[:-1]]) if tgt.ndim == 1 else None
        out = np.zeros(batch, dtype=_float_like(lp))
        for n in range(batch):
            length, steps = int(tg_len[n]), int(in_len[n])
            labels = tgt[starts[n]:starts[n] + length] if starts is not None else tgt[n, :length]
            if steps > t_max or steps < 0 or length < 0 or len(labels) != length:
                raise FormulaRuntimeError(f"ctc_nll: lengths of sample {n} exceed the inputs")
            if np.any((labels < 0) | (labels >= classes)):
                raise FormulaRuntimeError(f"ctc_nll: a target of sample {n} is outside [0, {classes})")
            out[n] = _ctc_one(lp[:steps, n, :], labels, int(blank))
            ctx.accumulation.record(np.full(max(1, steps), out[n] / max(1, steps)), np.zeros(()))
        return out[0] if unbatched else out

    def cumprod(x: Any, axis: int = -1) -> np.ndarray:
        x = _arr(x)
        return np.cumprod(x, axis=int(axis), dtype=x.dtype if x.dtype.kind in "fc" else np.int64)

    return {"norm": norm, "pairwise_distance": pairwise_distance, "cosine_similarity": cosine_similarity,
            "logsumexp": logsumexp, "logaddexp": np.logaddexp, "ctc_nll": ctc_nll, "cumprod": cumprod}


def _ctc_one(lp: np.ndarray, labels: np.ndarray, blank: int) -> Any:
    """-log p(labels | lp) for one sample: lp (steps, C) log-probabilities, labels without blanks."""
    dtype = lp.dtype.type
    n = 2 * len(labels) + 1
    ext = np.full(n, blank, dtype=np.int64)
    ext[1::2] = labels
    if len(lp) == 0:
        return dtype(0.0) if len(labels) == 0 else dtype(np.inf)
    # a step from s-2 is allowed onto a label that differs from the label two places back
    skip = np.zeros(n, dtype=bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    neg_inf = dtype(-np.inf)
    emit = lp[:, ext]  # each step's log-probability of each extended label
    # alpha lives at the end of a buffer led by two -inf: its shifts by one and two are views, not new arrays
    shifted = np.full(n + 2, neg_inf, dtype=lp.dtype)
    alpha = shifted[2:]
    alpha[:2] = emit[0, :2]
    for t in range(1, len(lp)):
        step = np.logaddexp(np.logaddexp(alpha, shifted[1:n + 1]), np.where(skip, shifted[:n], neg_inf))
        step += emit[t]
        alpha[:] = step
    total = np.logaddexp(alpha[-1], alpha[-2]) if n > 1 else alpha[-1]
    return -total
# --- family-a losses: logistic and log-domain helpers -------------------------------------------
# Written in stable forms (no exp overflow for large |x|) and dtype preserving like the rest.

def _sigmoid(x: Any) -> np.ndarray:
    x = _arr(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(_float_like(x))


def _softplus(x: Any) -> np.ndarray:
    """log(1 + exp(x))."""
    x = _arr(x)
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(_float_like(x))


def _log_sigmoid(x: Any) -> np.ndarray:
    """log(sigmoid(x)) = -softplus(-x), finite for large negative x."""
    return -_softplus(-_arr(x))


def _xlogy(x: Any, y: Any) -> np.ndarray:
    """x * log(y), taken as 0 where x == 0 (also when y == 0): the 0 log 0 = 0 convention."""
    x, y = _arr(x), _arr(y)
    out = x * np.log(np.where(x == 0, 1, y))
    return np.where(x == 0, np.zeros_like(out), out)


FAMILY_A: dict[str, Callable[..., Any]] = {
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "log_sigmoid": _log_sigmoid,
    "xlogy": _xlogy,
}


_STATIC.update(FAMILY_A)


#: Names of constants a formula may use.
CONSTANTS: dict[str, Any] = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}

#: Every name a formula may call, for load-time validation (the context does not change the names).
FUNCTIONS: frozenset[str] = frozenset(make_vocabulary(Context()))


def _own_keywords() -> frozenset[str]:
    """Parameter names of the functions defined here (numpy's own, such as `out=` or `dtype=`, stay out)."""
    names: set[str] = set()
    for fn in make_vocabulary(Context()).values():
        if getattr(fn, "__module__", None) == __name__:
            try:
                names |= {p.name for p in inspect.signature(fn).parameters.values()
                          if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
            except (TypeError, ValueError):
                continue
    return frozenset(names)


#: Keywords a formula may pass (see formula.KEYWORDS).
KEYWORDS: frozenset[str] = _own_keywords()
NAMES: frozenset[str] = FUNCTIONS | frozenset(CONSTANTS)

_SCRATCH = Context()  # where the reductions of an evaluation without a context record; never read
_BASE: dict[str, Any] = {**CONSTANTS, **make_vocabulary(_SCRATCH)}


class _Slot(Context):
    """Stands in for the evaluation's context in one thread's reductions, made once per thread: making the
    reductions anew for every evaluation cost more than a small formula's numpy work."""


_LOCAL = threading.local()


def scope(ctx: Context | None) -> dict[str, Any]:
    """A fresh evaluation scope: the constants and the vocabulary, reductions recording into `ctx` (until the next
    scope of this thread is made: an evaluation runs to its end before another starts)."""
    out = dict(_BASE)
    if ctx is not None:
        slot: _Slot | None = getattr(_LOCAL, "slot", None)
        if slot is None:
            slot = _LOCAL.slot = _Slot()
            _LOCAL.reductions = _reductions(slot)
        slot.accumulation = ctx.accumulation
        out.update(_LOCAL.reductions)
    return out
