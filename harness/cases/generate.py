"""Hypothesis strategies derived from a spec: valid cases, and invalid ones that probe raise rules.

Cases are drawn once, in the orchestrating process, and sent to every framework, so every
framework sees the same cases for a seed.
"""
from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from functools import cache, cached_property
from typing import Any, Literal

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.control import BuildContext
from hypothesis.errors import NoSuchExample, StopTest
from hypothesis.extra import numpy as hnp
from hypothesis.internal.conjecture.data import ConjectureData
from hypothesis.internal.conjecture.providers import Constants, HypothesisProvider

from harness.cases import probes
from harness.cases.case import Case, holds
from harness.spec import dtypes
from harness.spec.model import MAX_CASE_ELEMENTS, ArraySpec, Param, Spec, batch_axis
from harness.spec.probes import array_specs as declared_arrays

SMALL_ELEMENTS = 64  # arrays up to this size get element-by-element hypothesis values
LARGE_ELEMENTS = (2_000, 40_000)  # the rare large case, to reach vectorized and accumulating paths


def array_specs(spec: Spec, variant: str | None) -> dict[str, ArraySpec]:
    """Inputs (as the variant shapes them) and tensor parameters, in dependency order."""
    specs = declared_arrays(spec, variant)
    ordered: dict[str, ArraySpec] = {}

    def visit(name: str) -> None:
        if name in ordered:
            return
        for ref in (specs[name].dtypes, specs[name].shape):
            if isinstance(ref, str):
                visit(ref.split(" ", 1)[1])
        if specs[name].above in specs:
            visit(specs[name].above)  # type: ignore[arg-type]
        ordered[name] = specs[name]

    for name in specs:
        visit(name)
    return ordered


def scalar_params(spec: Spec) -> dict[str, Param]:
    return {k: v for k, v in spec.model.params.items() if isinstance(v, Param)}


def _param_strategy(p: Param) -> st.SearchStrategy[Any]:
    if p.enum is not None:
        return st.sampled_from(p.enum)
    special = [v for v in p.special if _in_range(p, v)]
    if p.type == "bool":
        return st.booleans()
    if p.type == "str":
        return st.sampled_from(special or [p.default])
    lo = p.min if p.min is not None else -10.0
    hi = p.max if p.max is not None else 10.0
    if p.type == "int":
        drawn: st.SearchStrategy[Any] = st.integers(int(np.ceil(lo)), int(np.floor(hi)))
    else:
        drawn = st.floats(lo, hi, allow_nan=False, exclude_min=p.exclusive_min).map(lambda v: round(v, 3))
        drawn = drawn.filter(lambda v: _in_range(p, v))
    return st.one_of(st.sampled_from(special), drawn) if special else drawn


_STRATEGIES: dict[int, tuple[Spec, dict[str, st.SearchStrategy[Any]]]] = {}


def _param_strategies(spec: Spec) -> dict[str, st.SearchStrategy[Any]]:
    """The scalar parameters' strategies, built once per spec (see `_valid` on why)."""
    kept = _STRATEGIES.get(id(spec))
    if kept is None or kept[0] is not spec:
        kept = _STRATEGIES[id(spec)] = (spec, {k: _param_strategy(p) for k, p in scalar_params(spec).items()})
    return kept[1]


def _in_range(p: Param, v: Any) -> bool:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return True
    if p.min is not None and (v < p.min or (p.exclusive_min and v == p.min)):
        return False
    return p.max is None or v <= p.max


@cache
def _elements(dtype: str, values: str, specials: bool) -> st.SearchStrategy[float]:
    width: Literal[16, 32, 64] = 16 if dtype == "float16" else (32 if dtype == "float32" else 64)
    if values == "positive":
        base = st.floats(0.0625, 4.0, width=width)
    elif values == "unit":
        base = st.floats(0.0, 1.0, width=width)
    else:
        base = st.one_of(st.integers(-3, 3).map(float), st.floats(-8.0, 8.0, width=width))
    if not specials:
        return base
    return st.one_of(base, st.sampled_from(_extremes(dtype, values)))


def _extremes(dtype: str, values: str) -> list[float]:
    """Edge values inside the kind's domain (nan always, to probe propagation): a `positive`
    variance is never 0 or negative, a `unit` probability never above 1."""
    big = dtypes.max_value(dtype) / 4
    small = 1e-4 if dtype in ("float16", "float32") else 1e-30
    if values == "positive":
        return [np.inf, np.nan, big, dtypes.tiny(dtype), small]
    if values == "unit":
        return [0.0, 1.0, np.nan, dtypes.tiny(dtype), small]
    return [0.0, -0.0, np.inf, -np.inf, np.nan, big, -big, dtypes.tiny(dtype), small]


def _fill(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, values: str, specials: bool) -> np.ndarray:
    """Element values like `_elements` draws them, from numpy: small integers, fractions, uniform
    floats, and (with `specials`) the extremes, one element in eight."""
    if values == "positive":
        wide = rng.uniform(0.0625, 4.0, shape)
    elif values == "unit":
        wide = np.where(rng.random(shape) < 0.2, rng.integers(0, 2, shape).astype(np.float64), rng.uniform(0, 1, shape))
    else:
        pick = rng.random(shape)
        wide = np.where(pick < 0.4, rng.integers(-3, 4, shape).astype(np.float64),
                        np.where(pick < 0.5, rng.integers(-32, 33, shape) / 4.0, rng.uniform(-8.0, 8.0, shape)))
    if specials:
        extremes = np.array(_extremes(dtype, values))
        wide = np.where(rng.random(shape) < 0.125, extremes[rng.integers(0, len(extremes), shape)], wide)
    return np.asarray(wide, dtype=np.float64)


def _array(draw: Callable, a: ArraySpec, dtype: str, shape: tuple[int, ...], env: dict[str, Any], dims: dict[str, Any],
           specials: bool, elementwise: int = SMALL_ELEMENTS) -> np.ndarray:
    size = int(np.prod(shape, dtype=np.int64))
    if size > elementwise:  # one draw seeds the values: hypothesis per element costs ~50 us each
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        return _numpy_array(rng, a, dtype, shape, env, dims, specials, draw(st.booleans()))
    if a.values == "index":
        n_classes = int(dims[a.classes]) if a.classes else 2
        out = np.asarray(draw(hnp.arrays(np.int64, shape, elements=st.integers(0, max(0, n_classes - 1)))))
        if a.exclude is not None and n_classes > 1:
            skip = int(env[a.exclude])
            out = np.where(out == skip, (skip + 1) % n_classes, out)
        if a.ignore and size and draw(st.booleans()):
            mask = np.asarray(draw(hnp.arrays(np.bool_, shape)))
            out = np.where(mask, int(env[a.ignore]), out)
        return out.astype(dtypes.numpy_dtype(dtype))
    if a.values in ("sign", "binary"):
        mask = np.asarray(draw(hnp.arrays(np.bool_, shape)))
        return dtypes.cast(np.where(mask, 1.0, -1.0 if a.values == "sign" else 0.0), dtype)
    if a.values == "padded_index":
        def ints(lo: int, hi: int, at: tuple[int, ...]) -> np.ndarray:
            return np.asarray(draw(st.integers(lo, hi)) if not at else draw(hnp.arrays(np.int64, at, elements=st.integers(lo, hi))))
        n_classes = int(dims[a.classes]) if a.classes else (shape[-1] if shape else 1)
        return _padded_index(ints, shape, n_classes).astype(dtypes.numpy_dtype(dtype))
    if a.values == "lengths":
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        raise_low = a.above is not None and env.get(a.above) is not None and draw(st.integers(0, 3)) > 0
        return _lengths(rng, a, shape, env, dims, raise_low).astype(dtypes.numpy_dtype(dtype))
    if dtype not in ("float16", "bfloat16", "float32", "float64"):
        return np.asarray(draw(hnp.arrays(np.int64, shape, elements=st.integers(-3, 3)))).astype(dtypes.numpy_dtype(dtype))
    kind = "unit" if a.values == "probabilities" else a.values
    store = np.float32 if dtype == "bfloat16" else np.dtype(dtype)
    wide = np.asarray(draw(hnp.arrays(store, shape, elements=_elements(dtype, kind, specials))), dtype=np.float64)
    return _finish(a, dtype, wide)


def _numpy_array(rng: np.random.Generator, a: ArraySpec, dtype: str, shape: tuple[int, ...], env: dict[str, Any],
                 dims: dict[str, Any], specials: bool, ignore: bool) -> np.ndarray:
    """`_array` with every element from `rng`: for large arrays, and for every array of a bulk draw."""
    size = int(np.prod(shape, dtype=np.int64))
    if a.values == "index":
        n_classes = int(dims[a.classes]) if a.classes else 2
        out = rng.integers(0, max(1, n_classes), shape)
        if a.exclude is not None and n_classes > 1:
            skip = int(env[a.exclude])
            out = np.where(out == skip, (skip + 1) % n_classes, out)
        if a.ignore and size and ignore:
            out = np.where(rng.random(shape) < 0.5, int(env[a.ignore]), out)
        return out.astype(dtypes.numpy_dtype(dtype))
    if a.values in ("sign", "binary"):
        return dtypes.cast(np.where(rng.random(shape) < 0.5, 1.0, -1.0 if a.values == "sign" else 0.0), dtype)
    if a.values == "padded_index":
        n_classes = int(dims[a.classes]) if a.classes else (shape[-1] if shape else 1)
        return _padded_index(lambda lo, hi, at: rng.integers(lo, hi + 1, at), shape, n_classes).astype(
            dtypes.numpy_dtype(dtype))
    if a.values == "lengths":
        return _lengths(rng, a, shape, env, dims, raise_low=bool(rng.integers(0, 4) > 0)).astype(dtypes.numpy_dtype(dtype))
    if dtype not in ("float16", "bfloat16", "float32", "float64"):
        return rng.integers(-3, 4, shape).astype(dtypes.numpy_dtype(dtype))
    if size > SMALL_ELEMENTS:
        wide = rng.uniform(0, 1, shape) if a.values in ("unit", "probabilities", "positive") else rng.standard_normal(shape) * 3
        if specials and size:
            flat = wide.reshape(-1)
            edges = {"unit": [1.0, 0.0], "positive": [np.inf, dtypes.tiny(dtype)]}.get(a.values, [np.inf, 0.0])
            flat[rng.integers(0, size, 3)] = [np.nan] + edges
    else:
        wide = _fill(rng, shape, dtype, "unit" if a.values == "probabilities" else a.values, specials)
    return _finish(a, dtype, wide)


def _finish(a: ArraySpec, dtype: str, wide: np.ndarray) -> np.ndarray:
    """Log-probabilities and probabilities normalized along their axis; every array cast to its dtype."""
    if a.values == "log_probabilities" and wide.ndim:
        axis = a.axis if wide.ndim > a.axis else -1
        top = np.max(wide, axis=axis, keepdims=True) if wide.shape[axis] else 0.0
        with np.errstate(all="ignore"):
            shifted = wide - np.where(np.isfinite(top), top, 0.0)
            wide = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    if a.values == "probabilities":
        axis = a.axis if wide.ndim > a.axis else -1
        wide = np.abs(np.nan_to_num(wide, nan=0.0, posinf=1.0, neginf=0.0)) if wide.ndim else np.ones(())
        total = wide.sum(axis=axis, keepdims=True) if wide.ndim else 1.0
        wide = np.where(total > 0, wide / np.where(total > 0, total, 1), 1.0 / max(1, wide.shape[axis] if wide.ndim else 1))
    return dtypes.cast(wide, dtype)


def _padded_index(ints: Callable[[int, int, tuple[int, ...]], np.ndarray], shape: tuple[int, ...], n_classes: int) -> np.ndarray:
    """Rows of class indices along the last axis: a leading block in [0, n_classes), then -1, then anything.

    Everything after the first -1 is padding that the docs say is never read; it is drawn from
    [-1, n_classes) on purpose, so a binding that reads past the padding shows it. `ints(lo, hi,
    shape)` draws integers in [lo, hi] (hypothesis element by element, or numpy).
    """
    if not shape:
        return np.asarray(ints(-1, max(0, n_classes - 1), ()), np.int64)
    valid = ints(0, max(0, n_classes - 1), shape)
    tail = ints(-1, max(0, n_classes - 1), shape)
    block = ints(0, shape[-1], shape[:-1])
    pos = np.arange(shape[-1])
    ends = np.expand_dims(block, -1)
    return np.where(pos < ends, valid, np.where(pos == ends, -1, tail))


def _lengths(rng: np.random.Generator, a: ArraySpec, shape: tuple[int, ...], env: dict[str, Any], dims: dict[str, Any],
             raise_low: bool) -> np.ndarray:
    """Sequence lengths in [0, bound], or (with `raise_low`) at least the `above` array's."""
    bound = int(dims[a.bound])  # type: ignore[index]
    low = np.zeros(shape, np.int64)
    if raise_low and a.above is not None and env.get(a.above) is not None:
        low = np.clip(np.broadcast_to(np.asarray(env[a.above], np.int64), shape), 0, bound)
    return low + rng.integers(0, bound - low + 1, shape)


def _shape(a: ArraySpec, dims: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    if isinstance(a.shape, str):
        return shapes[a.shape.split(" ", 1)[1]]
    out: list[int] = []
    for d in a.shape:
        if isinstance(d, int):
            out.append(d)
        elif d.endswith("..."):
            out.extend(dims[d[:-3]])
        else:
            out.append(dims[d])
    return tuple(out)


@st.composite
def valid_cases(draw: Callable, spec: Spec, elementwise: int = SMALL_ELEMENTS) -> Case:
    """A case inside the common spec's documented domain.

    Arrays up to `elementwise` elements get hypothesis values element by element (what shrinking
    wants: minimal cases with simple values); bulk drawing passes 0, so values come from numpy.
    """
    return _valid(draw, spec, elementwise)


# The helpers below draw with the caller's `draw` instead of being strategies themselves: a new
# strategy object per case is validated anew by hypothesis, which cost more than the drawing.
def _valid(draw: Callable, spec: Spec, elementwise: int) -> Case:
    model = spec.model
    variant = draw(st.sampled_from(tuple(sorted(model.variants)))) if model.variants else None
    large = draw(st.integers(0, 24)) == 0
    specials = draw(st.integers(0, 5)) == 0
    dims: dict[str, Any] = {}
    for name, d in model.dims.items():
        if d.rank:
            rank = draw(st.integers(*d.rank))
            dims[name] = tuple(draw(st.integers(d.min, d.max)) for _ in range(rank))
        else:
            dims[name] = draw(st.integers(d.min, d.max))
    if large:
        _make_large(spec, variant, dims, draw)
    _cap(spec, variant, dims)
    params = {k: draw(s) for k, s in _param_strategies(spec).items()}
    arrays: dict[str, np.ndarray | None] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    chosen: dict[str, str] = {}
    for name, a in array_specs(spec, variant).items():
        if a.optional and draw(st.booleans()):
            arrays[name] = None
            continue
        dtype = chosen[a.dtypes.split(" ", 1)[1]] if isinstance(a.dtypes, str) else draw(st.sampled_from(tuple(a.dtypes)))
        chosen[name] = dtype
        shapes[name] = _shape(a, dims, shapes)
        env = {**params, **arrays}
        arr = _array(draw, a, dtype, shapes[name], env, dims, specials, elementwise)
        arrays[name] = _apply_ties(spec, name, arr, {**env, name: arr}, draw)
    return Case(spec.api, arrays, params, variant)


def _make_large(spec: Spec, variant: str | None, dims: dict[str, Any], draw: Callable) -> None:
    """Grow the first dim of the first input so the case has thousands of elements."""
    first = next(iter(array_specs(spec, variant).values()))
    if not isinstance(first.shape, list):
        return
    for d in first.shape:
        if isinstance(d, str):
            name = d.rstrip(".")
            target = draw(st.integers(*LARGE_ELEMENTS))
            others = int(np.prod([v for k, v in dims.items() if k != name and not isinstance(v, tuple)] or [1])) or 1
            if spec.model.dims[name].rank:
                dims[name] = (max(1, target // others),)
            else:
                dims[name] = max(1, target // others)
            return


def case_elements(spec: Spec, variant: str | None, dims: dict[str, Any]) -> int:
    """Elements of all the arrays a case with these dims holds, a 0 dim counted as 1: an empty array
    whose other dims multiply past any memory is no more representable (numpy refuses its shape)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name, a in array_specs(spec, variant).items():
        shapes[name] = _shape(a, dims, shapes)
    return sum(int(np.prod([max(1, d) for d in s], dtype=np.float64)) for s in shapes.values())


def _cap(spec: Spec, variant: str | None, dims: dict[str, Any]) -> None:
    """Halve the largest dim until the case fits MAX_CASE_ELEMENTS (a spec's dims may allow far more).

    A rule of the dims alone, so the same seed still gives the same cases on every machine.
    """
    while case_elements(spec, variant, dims) > MAX_CASE_ELEMENTS:
        sizes = [(v, name, i) for name, value in dims.items()
                 for i, v in (enumerate(value) if isinstance(value, tuple) else [(None, value)])
                 if v > max(1, spec.model.dims[name].min)]
        if not sizes:
            return  # the spec's minimums: checked against the limit when it was loaded
        v, name, i = max(sizes, key=lambda t: (t[0], t[1]))
        smaller = max(spec.model.dims[name].min, v // 2)
        dims[name] = smaller if i is None else dims[name][:i] + (smaller,) + dims[name][i + 1:]


def _apply_ties(spec: Spec, name: str, arr: np.ndarray, env: dict[str, Any], draw: Callable) -> np.ndarray:
    ties = spec.ties.get(name) or []
    if not ties or arr.size == 0 or not draw(st.integers(0, 2)) == 0:
        return arr
    tie = ties[draw(st.integers(0, len(ties) - 1))]
    wide_env = dtypes.widened(env)
    try:
        value = np.broadcast_to(np.asarray(tie.evaluate(wide_env), dtype=np.float64), arr.shape)
    except Exception:  # a tie that does not apply to this case's shapes is simply not placed
        return arr
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    mask = rng.random(arr.shape) < 0.5
    return np.where(mask, dtypes.cast(value, dtypes.name(arr)), arr)


@st.composite
def invalid_cases(draw: Callable, spec: Spec, elementwise: int = SMALL_ELEMENTS) -> Case:
    """A valid case with one thing broken as an `invalid` probe of the spec says."""
    return _invalid(draw, spec, elementwise)


def _invalid(draw: Callable, spec: Spec, elementwise: int) -> Case:
    base = _valid(draw, spec, elementwise)
    start = draw(st.integers(0, len(spec.probes) - 1))
    for probe in spec.probes[start:] + spec.probes[:start]:  # the drawn probe, or the next that applies to the case
        case = probes.apply(probe, base, spec)
        if case is not None:
            return case
    return base


def sweep(spec: Spec, seed: int) -> list[Case]:
    """One case per probe of the spec, each on a valid case drawn with `seed` (the next one it applies to):
    every probe runs every run, where a random draw reaches a spec's forty probes rarely."""
    if not spec.probes:
        return []
    bases = draw(valid_cases(spec, elementwise=0), 2 * len(spec.probes), seed)
    out = []
    for i, probe in enumerate(spec.probes):
        for base in bases[i:] + bases[:i]:
            case = probes.apply(probe, base, spec)
            if case is not None:
                out.append(case)
                break
    return out


def unbatched(spec: Spec, cases: list[Case]) -> list[Case]:
    """The spec's unbatched form (`unbatched:`) of up to `unbatched.cases` of `cases`, one per variant and parameter
    values first: the batch dim dropped (its first entry kept) from every array whose declared shape has it at a
    fixed axis. A case whose batch is empty has no unbatched form."""
    u = spec.model.unbatched
    if u is None:
        return []
    out: list[Case] = []
    settings: set[str] = set()
    made_already: set[str] = set()
    for rank in (0, 1):  # first one per variant and parameters, then any
        for case in cases:
            if len(out) >= u.cases or (rank == 0 and case.setting in settings):
                continue
            made = _unbatched(spec, case, u.dim)
            if made is not None and made.fingerprint() not in made_already:
                out.append(made)
                settings.add(case.setting)
                made_already.add(made.fingerprint())
    return out


def _unbatched(spec: Spec, case: Case, dim: str) -> Case | None:
    if spec.unbatched_when is not None and not holds(spec.unbatched_when, case):
        return None
    specs = array_specs(spec, case.variant)
    arrays, axes = dict(case.arrays), []
    for name, a in case.arrays.items():
        axis = batch_axis(specs[name].shape, dim, specs) if name in specs else None
        if a is None or axis is None:
            continue
        if a.ndim <= axis or a.shape[axis] == 0:
            return None
        arrays[name] = np.take(a, 0, axis=axis)
        axes.append((name, axis))
    return case.with_(arrays=arrays, unbatched=tuple(axes)) if axes else None


def valid_form(case: Case) -> Case | None:
    """A shape probe's case with the shape put back as its note says (None for other cases): a peer that raises
    on both raises for something else than the broken shape (MindSpore takes no 1-D input at all)."""
    if case.origin != "invalid":
        return None
    grown, extra = probes.GROWN.fullmatch(case.note), probes.EXTRA_DIM.fullmatch(case.note)
    found = grown or extra
    arr = case.arrays.get(found[1]) if found else None
    if found is None or arr is None:
        return None
    name = found[1]
    if grown:
        shape = tuple(int(x) for x in grown[2].split(",") if x.strip())
        back = np.resize(arr, shape)
    else:
        back = arr[..., 0]
    return case.with_(arrays={**case.arrays, name: back}, origin="generated", note="")


@st.composite
def all_cases(draw: Callable, spec: Spec, elementwise: int = SMALL_ELEMENTS) -> Case:
    """Valid cases mostly, invalid probes (when the spec has any) one time in eight: every probe has a case of
    its own in every run besides (`sweep`), so these only vary what each is tried on."""
    if spec.probes and draw(st.integers(0, 7)) == 0:
        return _invalid(draw, spec, elementwise)
    return _valid(draw, spec, elementwise)


def _settings(n: int, phases: list[Phase]) -> settings:
    return settings(max_examples=n, database=None, phases=phases, deadline=None, derandomize=False,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False)


class _Provider(HypothesisProvider):
    """Hypothesis's own value distribution without the constants it collects from the modules
    loaded at the time, which would make the cases of a seed depend on what else was imported."""

    @cached_property
    def _local_constants(self) -> Constants:
        return Constants()


MAX_CHOICES = 8192
MAX_ATTEMPTS = 100  # draws that may be rejected (a filter or an overrun) per case kept


def iter_cases(strategy: st.SearchStrategy[Any], seed: int, start: int = 0) -> Iterator[Any]:
    """Examples of `strategy`, each drawn from its own random stream named by (seed, index).

    Hypothesis's strategies and value distribution, without its test engine: the engine costs
    ~0.4 ms per example and grows with the run, and here nothing is being searched for, only
    drawn. Example i depends on the seed and i alone, so any prefix of a longer draw is the
    shorter draw, in any process.
    """
    index, rejected = start, 0
    while True:
        data = ConjectureData(random=random.Random(f"{seed}:{index}"), provider=_Provider, max_choices=MAX_CHOICES)
        index += 1
        try:
            with BuildContext(data, is_final=False, wrapped_test=None):  # type: ignore[arg-type]
                value = data.draw(strategy)
        except StopTest:
            rejected += 1
            if rejected > MAX_ATTEMPTS:
                raise RuntimeError(f"{MAX_ATTEMPTS} draws in a row were rejected: the strategy cannot produce cases") from None
            continue
        rejected = 0
        yield value


def draw(strategy: st.SearchStrategy[Any], n: int, seed: int) -> list[Any]:
    """`n` examples from `strategy`, the same ones for the same seed in any process."""
    return list(itertools.islice(iter_cases(strategy, seed), n))


def shrink(strategy: st.SearchStrategy[Case], holds: Callable[[Case], bool], seed: int, budget: int = 300) -> Case | None:
    """The simplest case for which `holds` is true, or None when none is found within the budget."""
    try:
        return find(strategy, holds, settings=_settings(budget, [Phase.generate, Phase.shrink]),
                    random=random.Random(seed))
    except (NoSuchExample, Exception):  # noqa: B014 - an Unsatisfiable search is no shrink either
        return None
