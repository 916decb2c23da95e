"""Pairwise coverage: every pair of a spec's categorical features is met by at least one core case.

Why: some discrepancies need two features at once (a target that hits ignore_index with a weight and one reduction,
an empty input in float16), and a hundred random draws meet a given pair rarely or never. The features are derived
from the spec (`features`). A pair is *demanded* when a pool of valid draws shows each of its two values can occur
(or a value can be put: an enum or bool value, an absent tensor, an element at the ignored index or at a threshold);
the core cases that already meet some pairs are topped up, greedily, with pool cases put to the values a pair wants,
until every demanded pair a valid case can meet is met. The coverage section lists the pairs reached and missed.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.cases.case import Case
from harness.spec import dtypes
from harness.spec.model import ArraySpec, Param, Spec

MAX_ADDED = 48  # cases a spec's pairwise top-up may add
Pair = tuple[tuple[str, str], tuple[str, str]]  # ((feature, value), (feature, value)), features in spec order


@dataclass(frozen=True)
class Feature:
    name: str
    of: Callable[[Case], str | None]  # the case's value of it (None: not defined for this case)
    settable: tuple[str, ...] = ()  # the values `put` can give a case
    put: Callable[[Case, str], Case | None] | None = None  # the case with that value (None: it cannot have it)


def features(spec: Spec) -> list[Feature]:
    """The spec's categorical features: parameters' enum and bool values, optional tensors, variants, each array's
    dtype where the spec lets it vary on its own, the first input's shape class (empty, 0-d, one element, other), and derived facts: an index array
    that holds the ignored index, an array that holds a value placed at a formula threshold (`ties`)."""
    out: list[Feature] = []
    for name, p in spec.model.params.items():
        if isinstance(p, Param) and (p.enum is not None or p.type == "bool"):
            values = {repr(v): v for v in (p.enum if p.enum is not None else [False, True])}
            out.append(Feature(name, _param_of(name), tuple(values), _param_put(name, values)))
        elif isinstance(p, ArraySpec) and p.optional:
            out.append(Feature(name, _presence_of(name), ("absent",), _absent_put(name)))
    if spec.model.variants:
        out.append(Feature("variant", lambda c: str(c.variant)))
    arrays = list(spec.model.inputs.items()) + [kv for v in spec.model.variants.values() for kv in v.inputs.items()]
    for name in dict.fromkeys(name for name, a in arrays if not isinstance(a.dtypes, str)):  # `like X` follows X's
        out.append(Feature(f"dtype({name})", _dtype_of(name)))
    first = next(iter(spec.model.inputs))
    out.append(Feature(f"shape({first})", _shape_of(first)))
    for name, param in dict.fromkeys((name, a.ignore) for name, a in arrays if a.ignore is not None):
        ignored = _param_value(param)
        out.append(Feature(f"{name} holds {param}", _holds(name, ignored), ("yes",), _place(name, ignored)))
    for name, ties in spec.ties.items():
        for tie in ties:
            value = _tie(tie)
            out.append(Feature(f"{name} at {tie.source.strip()}", _holds(name, value), ("yes",), _place(name, value)))
    return out


def _param_of(name: str) -> Callable[[Case], str | None]:
    return lambda c: repr(c.params.get(name)) if name not in c.omit else None


def _param_put(name: str, values: dict[str, Any]) -> Callable[[Case, str], Case | None]:
    return lambda c, label: c.with_(params={**c.params, name: values[label]}, omit=tuple(n for n in c.omit if n != name))


def _presence_of(name: str) -> Callable[[Case], str | None]:
    return lambda c: "absent" if c.arrays.get(name) is None else "present"


def _absent_put(name: str) -> Callable[[Case, str], Case | None]:
    return lambda c, label: c.with_(arrays={**c.arrays, name: None})


def _dtype_of(name: str) -> Callable[[Case], str | None]:
    return lambda c: dtypes.name(c.arrays[name]) if c.arrays.get(name) is not None else None


def _shape_of(name: str) -> Callable[[Case], str | None]:
    def of(c: Case) -> str | None:
        a = c.arrays.get(name)
        if a is None:
            return None
        # one element: where a reduction's mean and sum agree, a kernel's special case for it shows (MindSpore's BCE)
        return "empty" if a.size == 0 else "0-d" if a.ndim == 0 else "one element" if a.size == 1 else "other"
    return of


Value = Callable[[Case], Any]
"""A value for an array's elements, from the case (None: none here)."""


def _param_value(name: str) -> Value:
    return lambda c: c.params.get(name)


def _tie(tie: Any) -> Value:
    def value(c: Case) -> Any:
        try:
            return np.asarray(tie.evaluate(dtypes.widened(c.env())), dtype=np.float64)
        except Exception:
            return None
    return value


def _holds(name: str, value: Value) -> Callable[[Case], str | None]:
    """'yes' when some element of the array equals the value (the same element of it, where it is an array)."""
    def of(c: Case) -> str | None:
        a, v = c.arrays.get(name), value(c)
        if a is None or a.size == 0 or v is None:
            return None
        try:
            float_array = dtypes.is_float(dtypes.name(a))
            target = np.broadcast_to(np.asarray(v, dtype=np.float64), a.shape)
            if float_array:
                target = dtypes.to_float64(dtypes.cast(target, dtypes.name(a)))
            wide = dtypes.to_float64(a) if float_array else a.astype(np.float64)
            return "yes" if bool((wide == target).any()) else "no"
        except Exception:
            return None
    return of


def _place(name: str, value: Value) -> Callable[[Case, str], Case | None]:
    """The case with the array's first element set to the value (its first element, where it is an array)."""
    def put(c: Case, label: str) -> Case | None:
        a, v = c.arrays.get(name), value(c)
        if a is None or a.size == 0 or v is None:
            return None
        try:
            first = float(np.broadcast_to(np.asarray(v, dtype=np.float64), a.shape).reshape(-1)[0])
        except ValueError:
            return None
        out = a.copy()
        if dtypes.is_float(dtypes.name(a)):
            out.reshape(-1)[0] = dtypes.cast(np.asarray([first]), dtypes.name(a))[0]
        elif first == int(first):
            out.reshape(-1)[0] = int(first)
        else:
            return None
        return c.with_(arrays={**c.arrays, name: out})
    return put


def met(feats: list[Feature], case: Case) -> set[Pair]:
    """The pairs of feature values this case meets."""
    values = [(f.name, v) for f in feats if (v := f.of(case)) is not None]
    return set(itertools.combinations(values, 2))


def demanded(feats: list[Feature], pool: Iterable[Case], valid: Callable[[Case], bool]) -> set[Pair]:
    """Every pair some valid case of the pool meets, as drawn or with one feature put to another value."""
    out: set[Pair] = set()
    for case in pool:
        variants = [case] + [moved for f in feats if f.put is not None for v in f.settable
                             if f.of(case) != v and (moved := f.put(case, v)) is not None]
        for c in variants:
            if valid(c):
                out |= met(feats, c)
    return out


def top_up(feats: list[Feature], wanted: set[Pair], have: list[Case], pool: list[Case],
           valid: Callable[[Case], bool]) -> list[Case]:
    """Cases from the pool (adjusted) that meet the `wanted` pairs (`demanded`) `have` does not, greedily, at most
    MAX_ADDED."""
    todo = wanted - set().union(*(met(feats, c) for c in have))
    added: list[Case] = []
    for pair in sorted(todo):
        if len(added) >= MAX_ADDED:
            break
        if pair not in todo:
            continue
        for base in pool:  # the first pool case that can meet the pair (in pool order: the same every run)
            case = _towards(feats, base, pair, todo)
            if case is not None and pair in met(feats, case) and valid(case):
                added.append(case)
                todo -= met(feats, case)
                break
    return added


def _towards(feats: list[Feature], base: Case, pair: Pair, todo: set[Pair]) -> Case | None:
    """`base` with the features of `pair` put to its values, then every other settable feature put to the value that
    meets the most pairs still wanted; None when a feature of `pair` differs and cannot be put."""
    wanted = dict(pair)
    case: Case | None = base
    for f in feats:
        if case is None:
            return None
        if f.name in wanted and f.of(case) != wanted[f.name]:
            case = f.put(case, wanted[f.name]) if f.put is not None and wanted[f.name] in f.settable else None
    for f in feats:
        if case is None or f.put is None or f.name in wanted:
            continue
        now = len(met(feats, case) & todo)
        for v in f.settable:
            if f.of(case) != v and (moved := f.put(case, v)) is not None and len(met(feats, moved) & todo) > now:
                case, now = moved, len(met(feats, moved) & todo)
    return case


def reached(spec: Spec, cases: list[Case], wanted: set[Pair]) -> dict[str, Any]:
    """What the coverage section shows: the demanded pairs, how many the cases met, and the others by name."""
    feats = features(spec)
    got = set().union(*(met(feats, c) for c in cases)) if cases else set()
    missed = sorted(wanted - got)
    return {"demanded": len(wanted), "reached": len(wanted) - len(missed),
            "missed": [f"{a}={x} & {b}={y}" for (a, x), (b, y) in missed]}
