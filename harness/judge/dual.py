"""Forward-mode differentiation of spec formulas: dual numbers carried through the vocabulary.

A `Dual` holds a value and a batch of tangents, one per seed (tangent shape = (seeds,) + value
shape), so one evaluation of a formula gives the whole gradient of one input. The rules are
exact derivatives evaluated in the value's own dtype, so the float64 gradient is as accurate as
the float64 formula (no step size, no cancellation), and the same evaluation in float16 gives the
rounding-noise estimate the tolerance policy needs.

Zero tangents are strong: a tangent that is exactly zero stays zero whatever it is multiplied by
(0 * inf and 0 * nan give 0). That is what reverse-mode autodiff computes: the gradient of one
element never picks up nan from an unrelated element, while a nan on the element's own path does
propagate. At non-smooth points the rules pick one side (abs'(0) = sign(0) = 0, the selected branch
of `where`); `gradref` finds such points and takes one-sided derivatives there.

A vocabulary function without a rule raises `NoRule` when it meets a `Dual`, so a formula that
uses one is reported as not differentiable here rather than silently wrong.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.spec import vocabulary
from harness.spec.vocabulary import Accumulation, Context


class NoRule(Exception):
    """A formula applied an operation that has no forward-mode rule to a differentiated value."""


def _fix(x: Any) -> Any:
    """Shift a non-negative axis past the leading seed axis of a tangent."""
    if x is None:
        return None
    if isinstance(x, (tuple, list)):
        return tuple(_fix(a) for a in x)
    x = int(x)
    return x + 1 if x >= 0 else x


class Dual:
    """A value and its tangents; arithmetic and comparisons follow the value."""

    __array_ufunc__ = None  # numpy arrays defer to our reflected operators
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, v: Any, t: Any) -> None:
        self.v = np.asarray(v)
        self.t = np.asarray(t)

    @property
    def seeds(self) -> int:
        return self.t.shape[0]

    # arithmetic ----------------------------------------------------------------------
    def __add__(self, o: Any) -> Dual:
        return _binary(self, o, lambda a, b: a + b, lambda a, b: (1, 1))

    def __radd__(self, o: Any) -> Dual:
        return _binary(o, self, lambda a, b: a + b, lambda a, b: (1, 1))

    def __sub__(self, o: Any) -> Dual:
        return _binary(self, o, lambda a, b: a - b, lambda a, b: (1, -1))

    def __rsub__(self, o: Any) -> Dual:
        return _binary(o, self, lambda a, b: a - b, lambda a, b: (1, -1))

    def __mul__(self, o: Any) -> Dual:
        return _binary(self, o, lambda a, b: a * b, lambda a, b: (b, a))

    def __rmul__(self, o: Any) -> Dual:
        return _binary(o, self, lambda a, b: a * b, lambda a, b: (b, a))

    def __truediv__(self, o: Any) -> Dual:
        return _binary(self, o, lambda a, b: a / b, lambda a, b: (1 / b, -a / (b * b)))

    def __rtruediv__(self, o: Any) -> Dual:
        return _binary(o, self, lambda a, b: a / b, lambda a, b: (1 / b, -a / (b * b)))

    def __pow__(self, p: Any) -> Dual:
        if isinstance(p, Dual):
            raise NoRule("a power whose exponent depends on the differentiated input")
        return _unary(self, lambda v: v ** p, lambda v: p * v ** (p - 1) if p != 0 else np.zeros_like(v))

    def __rpow__(self, o: Any) -> Dual:
        raise NoRule("a power whose exponent depends on the differentiated input")

    def __neg__(self) -> Dual:
        return Dual(-self.v, self.t if _magnitudes() else -self.t)

    def __pos__(self) -> Dual:
        return self

    def __floordiv__(self, o: Any) -> Any:
        raise NoRule("floor division")

    __rfloordiv__ = __mod__ = __rmod__ = __floordiv__

    # comparisons and the like look at the value only (an ordering is a threshold: `margins` records it)
    def __lt__(self, o: Any) -> Any:
        _threshold(self, o)
        return self.v < value(o)

    def __le__(self, o: Any) -> Any:
        _threshold(self, o)
        return self.v <= value(o)

    def __gt__(self, o: Any) -> Any:
        _threshold(self, o)
        return self.v > value(o)

    def __ge__(self, o: Any) -> Any:
        _threshold(self, o)
        return self.v >= value(o)

    def __eq__(self, o: Any) -> Any:
        return self.v == value(o)

    def __ne__(self, o: Any) -> Any:
        return self.v != value(o)

    def __bool__(self) -> bool:
        return bool(self.v)

    def __len__(self) -> int:
        return len(self.v)

    def __getitem__(self, idx: Any) -> Dual:
        idx = tuple(value(i) for i in idx) if isinstance(idx, tuple) else (value(idx),)
        return Dual(self.v[idx], self.t[(slice(None),) + idx])

    def __float__(self) -> float:
        raise NoRule("float() of a differentiated value")

    def __int__(self) -> int:
        return int(self.v)


def _flat(t: np.ndarray) -> np.ndarray:
    """(seeds, everything else); safe for empty arrays, where reshape(n, -1) is ambiguous."""
    return t.reshape(t.shape[0], int(np.prod(t.shape[1:], dtype=np.int64)))


def value(x: Any) -> Any:
    return x.v if isinstance(x, Dual) else x


def _seeds(*xs: Any) -> int:
    return next(x.seeds for x in xs if isinstance(x, Dual))


def _lift(x: Any, shape: tuple[int, ...], n: int) -> np.ndarray:
    """x's tangent broadcast to (n,) + shape; zeros for a constant."""
    if not isinstance(x, Dual):
        return np.zeros((n,) + shape, dtype=np.result_type(np.asarray(x).dtype, np.float16))
    t = x.t.reshape((n,) + (1,) * (len(shape) - x.v.ndim) + x.v.shape)
    return np.broadcast_to(t, (n,) + shape)


_STATE = threading.local()  # per thread (bindings are judged side by side in lanes: see RunSession):
# `magnitudes` (set by `magnitudes()`: tangents carry |terms|, a running error bound, not values) and `margins`


def _magnitudes() -> bool:
    return bool(getattr(_STATE, "magnitudes", False))


def _margins() -> list[margins]:
    listening: list[margins] | None = getattr(_STATE, "margins", None)
    if listening is None:
        listening = _STATE.margins = []
    return listening


class magnitudes:
    """Within this block tangents propagate the magnitude of the derivative's terms: |d| |t| for every
    product, |a| + |b| for every sum. The result bounds how large the terms are that the gradient is
    summed from, so rounding can be judged against them, not against their (possibly cancelled) sum."""

    def __enter__(self) -> None:
        _STATE.magnitudes = True

    def __exit__(self, *exc: Any) -> None:
        _STATE.magnitudes = False


class margins:
    """Within this block every threshold the formula meets is recorded: each ordering comparison of a
    differentiated value (a < b: the threshold a == b), and the kinks of abs (at 0) and of maximum,
    minimum and clip (where the arguments meet). `recorded` holds, per threshold, the distance to it
    (|a - b|, elementwise) and how fast each seed moves that distance ((seeds,) + its shape). Use it
    with `magnitudes()`, so the rates are bounds (|terms| summed) rather than possibly cancelled
    sums; abs then counts with a derivative of magnitude 1 everywhere, 0 included, so a quantity
    that passes through a kink still carries how fast it can move."""

    def __init__(self) -> None:
        self.recorded: list[tuple[np.ndarray, np.ndarray]] = []

    def __enter__(self) -> margins:
        _margins().append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _margins().remove(self)


def _threshold(a: Any, b: Any) -> None:
    """Record the threshold a == b, if some `margins` block is listening and either side is differentiated."""
    listening = _margins()
    if not listening or not (isinstance(a, Dual) or isinstance(b, Dual)):
        return
    with np.errstate(all="ignore"):
        va, vb = np.asarray(value(a), dtype=np.float64), np.asarray(value(b), dtype=np.float64)
        gap = np.abs(va - vb)
        n = _seeds(a, b)
        shape = np.broadcast_shapes(va.shape, vb.shape)
        rate = np.abs(_lift(a, shape, n).astype(np.float64)) + np.abs(_lift(b, shape, n).astype(np.float64))
    listening[-1].recorded.append((np.broadcast_to(gap, shape), rate))


def times(d: Any, t: np.ndarray) -> np.ndarray:
    """d * t with strong zeros: where the tangent is exactly zero, the product is zero."""
    with np.errstate(all="ignore"):
        out = np.where(t == 0, np.zeros((), t.dtype), d * t)
        return np.abs(out) if _magnitudes() else out


def _binary(a: Any, b: Any, f: Callable[[Any, Any], Any], df: Callable[[Any, Any], tuple[Any, Any]]) -> Dual:
    va, vb = value(a), value(b)
    with np.errstate(all="ignore"):
        v = np.asarray(f(va, vb))
        da, db = df(va, vb)
    return _combine(v, [(a, da), (b, db)])


def _combine(v: np.ndarray, parts: list[tuple[Any, Any]]) -> Any:
    """A value and the sum of d_i * tangent_i over the arguments that are Duals (plain v when none is)."""
    duals = [(x, d) for x, d in parts if isinstance(x, Dual)]
    if not duals:
        return v
    n = duals[0][0].seeds
    t = np.zeros((n,) + v.shape, dtype=v.dtype)
    for x, d in duals:
        t = t + times(np.asarray(d, dtype=v.dtype), _lift(x, v.shape, n))
    return Dual(v, t.astype(v.dtype))


def _unary(x: Dual, f: Callable[[Any], Any], df: Callable[[Any], Any]) -> Dual:
    with np.errstate(all="ignore"):
        v = np.asarray(f(x.v))
        d = np.asarray(df(x.v), dtype=v.dtype)
    return Dual(v, times(d, x.t).astype(v.dtype))


def _where(c: Any, a: Any, b: Any) -> Any:
    c = value(c)
    if not isinstance(a, Dual) and not isinstance(b, Dual):
        return np.where(c, a, b)
    v = np.asarray(np.where(c, value(a), value(b)))
    n = _seeds(a, b)
    return Dual(v, np.where(c, _lift(a, v.shape, n), _lift(b, v.shape, n)).astype(v.dtype))


def _record(acc: Accumulation, t: np.ndarray, out: Any, scale: float = 1.0) -> None:
    """Accumulation of a tangent reduction into `out` (per seed: the seeds are separate computations)."""
    per_seed = _flat(t)
    count = max(1, per_seed.shape[1] // max(1, np.size(out)))
    with np.errstate(all="ignore"):
        mags = np.nansum(np.abs(per_seed.astype(np.float64)), axis=1) * scale
    acc.count = max(acc.count, count)
    if mags.size and math.isfinite(float(mags.max())):
        acc.magnitude = max(acc.magnitude, float(mags.max()))


def rules(ctx: Context) -> dict[str, Callable[..., Any]]:
    """The vocabulary for dual evaluation: every name, with a rule or a guard that raises NoRule."""
    plain = vocabulary.make_vocabulary(Context())  # value reductions do not count: ctx records tangents

    def lifted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if any(isinstance(a, Dual) for a in list(args) + list(kwargs.values())):
                return fn(*args, **kwargs)
            return plain[name](*args, **kwargs)
        return call

    def on_values(name: str) -> Callable[..., Any]:
        """Functions whose result carries no derivative (shapes, predicates, sign, constants)."""
        return lambda *a, **k: plain[name](*(value(x) for x in a), **{key: value(x) for key, x in k.items()})

    def guard(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if any(isinstance(a, Dual) for a in list(args) + list(kwargs.values())):
                raise NoRule(f"vocabulary function {name!r} has no forward-mode rule")
            return plain[name](*args, **kwargs)
        return call

    def elementwise(f: Callable[[Any], Any], df: Callable[[Any], Any]) -> Callable[[Dual], Dual]:
        return lambda x: _unary(x, f, df)

    def reduction(x: Dual, axis: Any, scale_by_count: bool) -> Dual:
        v = np.asarray(plain["mean" if scale_by_count else "sum"](x.v, axis))
        ax = tuple(range(1, x.t.ndim)) if axis is None else _fix(axis)
        with np.errstate(all="ignore"):
            t = np.sum(x.t, axis=ax)
            count = x.v.size // max(1, v.size)
            if scale_by_count:
                t = t / count if count else np.full_like(t, np.nan)
        _record(ctx.accumulation, x.t, v, 1.0 / max(1, count) if scale_by_count else 1.0)
        return Dual(v, np.asarray(t, dtype=v.dtype))

    def _sum(x: Dual, axis: Any = None) -> Dual:
        return reduction(x, axis, False)

    def _mean(x: Dual, axis: Any = None) -> Dual:
        return reduction(x, axis, True)

    def _reduce(x: Dual, mode: str) -> Dual:
        return x if mode == "none" else (_sum(x) if mode == "sum" else _mean(x) if mode == "mean" else plain["reduce"](x.v, mode))

    def extreme(fn: Callable[..., Any]) -> Callable[..., Dual]:
        def call(x: Dual, axis: Any = None) -> Dual:
            v = np.asarray(fn(x.v, axis=vocabulary._axis(axis)))
            keep = v if axis is None else np.expand_dims(v, vocabulary._axis(axis))
            hit = (x.v == keep).astype(x.t.dtype)  # ties share the derivative (a kink; gradref finds it)
            ax = tuple(range(1, x.t.ndim)) if axis is None else _fix(axis)
            with np.errstate(all="ignore"):
                t = np.sum(times(hit, x.t), axis=ax) / np.maximum(np.sum(hit, axis=vocabulary._axis(axis)), 1)
            return Dual(v, np.asarray(t, dtype=v.dtype))
        return call

    def pair(f: Callable[[Any, Any], Any], pick_first: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """maximum/minimum: numpy's value (nan wins), the tangent of the argument it came from."""
        def call(a: Any, b: Any) -> Any:
            va, vb = value(a), value(b)
            if not isinstance(a, Dual) and not isinstance(b, Dual):
                return f(va, vb)
            _threshold(a, b)
            with np.errstate(invalid="ignore"):
                picked = _where(np.isnan(va) | pick_first(va, vb), a, b)
            return Dual(np.asarray(f(va, vb)), picked.t)
        return call

    def _abs(x: Dual) -> Dual:
        _threshold(x, 0.0)
        if _margins() and _magnitudes():  # a bound on how fast |x| moves: 1 at the kink too
            return _unary(x, np.abs, np.ones_like)
        return _unary(x, np.abs, np.sign)

    def _clip(x: Any, lo: Any, hi: Any) -> Any:
        if lo is not None:
            _threshold(x, lo)
        if hi is not None:
            _threshold(x, hi)
        out = _where(value(x) < value(lo), lo, x) if lo is not None else x
        return _where(value(out) > value(hi), hi, out) if hi is not None else out

    def _log_softmax(x: Dual, axis: int = -1) -> Dual:
        v = np.asarray(plain["log_softmax"](x.v, axis))
        s = np.exp(v)
        ax = _fix(axis)
        t = (np.abs(x.t) if _magnitudes() else x.t) + times(-1, np.sum(times(s, x.t), axis=ax, keepdims=True))
        _record(ctx.accumulation, x.t, np.sum(v, axis=axis))
        return Dual(v, t.astype(v.dtype))

    def _softmax(x: Dual, axis: int = -1) -> Dual:
        ls = _log_softmax(x, axis)
        return _unary(ls, np.exp, np.exp)

    def _take(x: Dual, indices: Any) -> Dual:
        v = np.asarray(plain["take"](x.v, indices))
        idx = np.clip(np.asarray(indices).astype(np.int64), 0, max(0, x.v.size - 1))
        flat = _flat(x.t)
        t = flat[:, idx] if x.v.size else np.zeros((x.seeds,) + idx.shape, x.t.dtype)
        return Dual(v, t)

    def _take_along_axis(x: Dual, idx: Any, axis: int) -> Dual:
        i = np.asarray(idx).astype(np.int64)
        return Dual(np.take_along_axis(x.v, i, int(axis)), np.take_along_axis(x.t, i[None], _fix(int(axis))))

    def _reshape(x: Dual, shape: Any) -> Dual:
        v = plain["reshape"](x.v, shape)
        return Dual(v, x.t.reshape((x.seeds,) + v.shape))

    def _broadcast_to(x: Dual, shape: Any) -> Dual:
        v = plain["broadcast_to"](x.v, shape)
        return Dual(v, _lift(x, v.shape, x.seeds))

    def _astype_like(x: Dual, like: Any) -> Dual:
        v = plain["astype_like"](x.v, value(like))
        return Dual(v, x.t.astype(v.dtype))

    def _sigmoid_of(v: Any) -> Any:
        return plain["sigmoid"](v) if "sigmoid" in plain else 1 / (1 + np.exp(-v))

    def _xlogy(x: Any, y: Any) -> Any:
        # d/dx = log(y) and d/dy = x / y, both 0 where x == 0 (the 0 log y = 0 convention, as torch defines it)
        vx, vy = value(x), value(y)
        with np.errstate(all="ignore"):
            v = np.asarray(plain["xlogy"](vx, vy))
            zero = np.asarray(vx) == 0
            dx = np.where(zero, 0, np.log(np.where(zero, 1, vy)))
            dy = np.where(zero, 0, vx / np.where(zero, 1, vy))
        return _combine(v, [(x, dx), (y, dy)])

    def _logsumexp(x: Dual, axis: Any = None, keepdims: bool = False) -> Dual:
        v = np.asarray(plain["logsumexp"](x.v, axis, keepdims))
        ax = tuple(range(x.v.ndim)) if axis is None else vocabulary._axis(axis)
        full = v if keepdims else np.expand_dims(v, ax)
        with np.errstate(all="ignore"):
            s = np.exp(x.v - full)
        t = np.sum(times(s, x.t), axis=_fix(ax), keepdims=keepdims)
        _record(ctx.accumulation, x.t, v)
        return Dual(v, np.asarray(t, dtype=v.dtype))

    def _logaddexp(a: Any, b: Any) -> Any:
        v = np.asarray(np.logaddexp(value(a), value(b)))
        with np.errstate(all="ignore"):
            return _combine(v, [(a, np.exp(value(a) - v)), (b, np.exp(value(b) - v))])

    def _norm(x: Any, p: float = 2.0, axis: Any = -1, keepdims: bool = False) -> Any:
        """d ||x||_p = sum(|x|^(p-1) sign(x) dx) / ||x||^(p-1); p = inf: the largest element's; p = 0: none."""
        v = np.asarray(plain["norm"](value(x), p, axis, keepdims))
        if p == 0 or not isinstance(x, Dual):
            return v
        ax = tuple(range(x.v.ndim)) if axis is None else vocabulary._axis(axis)
        full = v if keepdims else np.expand_dims(v, ax)
        a = np.abs(x.v)
        with np.errstate(all="ignore"):
            if p == math.inf:
                hit = (a == full).astype(x.v.dtype)
                d = np.sign(x.v) * hit / np.maximum(np.sum(hit, axis=ax, keepdims=True), 1)
            else:
                d = a ** (p - 1) * np.sign(x.v) / full ** (p - 1)
        t = np.sum(times(d.astype(x.v.dtype), x.t), axis=_fix(ax), keepdims=keepdims)
        _record(ctx.accumulation, x.t, v)
        return Dual(v, np.asarray(t, dtype=v.dtype))

    def _pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, axis: Any = -1,
                           keepdims: bool = False) -> Any:
        diff = x1 - x2
        return _norm(diff + np.asarray(eps, dtype=np.asarray(value(diff)).dtype), p, axis, keepdims)

    def _cosine_similarity(x1: Any, x2: Any, axis: Any = -1, eps: float = 0.0) -> Any:
        prod = x1 * x2
        dot = _sum(prod, axis) if isinstance(prod, Dual) else plain["sum"](prod, axis)
        floor = np.asarray(eps, dtype=np.asarray(value(dot)).dtype)
        n1, n2 = _norm(x1, 2.0, axis), _norm(x2, 2.0, axis)
        return dot / (table["maximum"](n1, floor) * table["maximum"](n2, floor))

    table: dict[str, Callable[..., Any]] = {
        "abs": _abs,
        "sqrt": elementwise(np.sqrt, lambda v: 0.5 / np.sqrt(v)),
        "square": elementwise(np.square, lambda v: 2 * v),
        "exp": elementwise(np.exp, np.exp),
        "log": elementwise(np.log, lambda v: 1 / v),
        "log1p": elementwise(np.log1p, lambda v: 1 / (1 + v)),
        "expm1": elementwise(np.expm1, np.exp),
        "tanh": elementwise(np.tanh, lambda v: 1 - np.tanh(v) ** 2),
        "maximum": pair(np.maximum, lambda a, b: a >= b),
        "minimum": pair(np.minimum, lambda a, b: a <= b),
        "clip": _clip,
        "where": _where,
        "sum": _sum,
        "mean": _mean,
        "reduce": _reduce,
        "amax": extreme(np.max),
        "amin": extreme(np.min),
        "log_softmax": _log_softmax,
        "softmax": _softmax,
        "take": _take,
        "take_along_axis": _take_along_axis,
        "expand_dims": lambda x, axis: Dual(np.expand_dims(x.v, int(axis)), np.expand_dims(x.t, _fix(axis))),
        "squeeze": lambda x, axis: Dual(np.squeeze(x.v, int(axis)), np.squeeze(x.t, _fix(axis))),
        "moveaxis": lambda x, s, d: Dual(np.moveaxis(x.v, int(s), int(d)), np.moveaxis(x.t, _fix(s), _fix(d))),
        "reshape": _reshape,
        "broadcast_to": _broadcast_to,
        "astype_like": _astype_like,
        # added with the loss family (present when the vocabulary has them)
        "sigmoid": elementwise(_sigmoid_of, lambda v: _sigmoid_of(v) * (1 - _sigmoid_of(v))),
        "softplus": elementwise(lambda v: plain["softplus"](v), _sigmoid_of),
        "log_sigmoid": elementwise(lambda v: plain["log_sigmoid"](v), lambda v: _sigmoid_of(-v)),
        "xlogy": _xlogy,
        "logsumexp": _logsumexp,
        "logaddexp": _logaddexp,
        "norm": _norm,
        "pairwise_distance": _pairwise_distance,
        "cosine_similarity": _cosine_similarity,
    }
    #: results with no derivative: shapes, dtypes, predicates, the sign function, constants
    no_derivative = ("sign", "isnan", "isinf", "isfinite", "logical_and", "logical_or", "logical_not", "any", "all",
                     "one_hot", "shape", "broadcastable", "ndim", "size", "ones", "zeros", "ones_like", "zeros_like",
                     "dtype", "is_float", "is_int", "int", "bool", "len")
    out: dict[str, Callable[..., Any]] = {}
    for name in plain:
        if name in table:
            out[name] = lifted(name, table[name])
        elif name in no_derivative:
            out[name] = on_values(name)
        else:
            out[name] = guard(name)
    return out


def seed(x: np.ndarray) -> Dual:
    """x as a Dual whose tangents are the unit vectors: the result's tangents are its gradient."""
    n = x.size
    eye = np.eye(n, dtype=x.dtype) if x.dtype.kind == "f" or x.dtype.name == "bfloat16" else np.eye(n)
    return Dual(x, eye.reshape((n,) + x.shape))


def gradient(result: Any, shape: tuple[int, ...], n: int, ctx: Context) -> np.ndarray:
    """d sum(result) / d input, from the result of an evaluation seeded with `seed`."""
    if not isinstance(result, Dual):  # the result does not depend on the input
        return np.zeros(shape)
    t = _flat(result.t)
    _record(ctx.accumulation, result.t, 0.0)
    with np.errstate(all="ignore"):
        return np.sum(t, axis=1).reshape(shape)
