"""A probe (spec/probes.py) made into a case: a valid case with the one thing the probe names broken."""
from __future__ import annotations

import re

import numpy as np

from harness.cases.case import Case
from harness.spec import dtypes
from harness.spec.model import Spec
from harness.spec.probes import FLOATS, UNSET, Fill, Probe, array_specs, declared


def apply(probe: Probe, base: Case, spec: Spec) -> Case | None:
    """`base` broken as the probe says (None: the probe does not apply to it, e.g. an index probe on a
    probabilities target, an input the case leaves out, a fill of an empty array)."""
    if probe.value is not UNSET:
        return base.with_(params={**base.params, probe.subject: probe.value}, origin="invalid", note=probe.key,
                          probe=probe.feature)
    arr = base.arrays.get(probe.subject)
    if arr is None:
        return None
    new = _changed(probe, arr, base, spec)
    if new is None:
        return None
    note = probe.key
    if probe.shape in ("mismatched", "trailing_one"):
        note = f"{probe.subject} shape {tuple(arr.shape)} -> {tuple(new.shape)}"  # the form generate.valid_form reads
    elif probe.shape == "extra_dim":
        note = f"{probe.subject} with an extra dim"
    elif probe.mixed:
        note = f"{probe.subject} as {dtypes.name(new)} (was {dtypes.name(arr)})"
    return base.with_(arrays={**base.arrays, probe.subject: new}, origin="invalid", note=note, probe=probe.feature)


GROWN = re.compile(r"(\w+) shape \(([\d, ]*)\) -> \([\d, ]*\)")
"""The note of a shape probe that changed a shape (`apply`), read back by `generate.valid_form` and `feature_of`."""
EXTRA_DIM = re.compile(r"(\w+) with an extra dim")
_NOTES = ((GROWN, ("mismatched", "trailing_one")), (EXTRA_DIM, ("extra_dim",)))


def feature_of(spec: Spec, note: str) -> str:
    """The probe feature of a case known only by its note (a case file written before cases kept their probe):
    the probe whose key is the note, or whose note form it has; "" when none is."""
    for p in spec.probes:
        if p.key == note:
            return p.feature
    for pattern, shapes in _NOTES:
        found = pattern.fullmatch(note)
        if found:
            return next((p.feature for p in spec.probes if p.subject == found[1] and p.shape in shapes), "")
    return ""


def _changed(probe: Probe, arr: np.ndarray, base: Case, spec: Spec) -> np.ndarray | None:
    if probe.fill is not None:
        value = _fill_value(probe.fill, probe.subject, arr, base, spec)
        return None if value is None else np.full_like(arr, dtypes.cast(value, dtypes.name(arr)))
    if probe.dtype:
        if probe.dtype in declared(spec, probe.subject, base.variant):
            return None  # this case's variant declares it: no probe here
        return dtypes.cast(np.nan_to_num(dtypes.to_float64(arr)), probe.dtype)
    if probe.mixed:
        now = dtypes.name(arr)
        return None if now not in FLOATS else dtypes.cast(dtypes.to_float64(arr), "float64" if now != "float64" else "float32")
    if probe.shape == "extra_dim":
        return arr[..., None].repeat(2, axis=-1)
    if probe.shape == "trailing_one":
        return None if not arr.ndim or arr.shape[-1] < 2 else np.ascontiguousarray(arr[..., :1])
    grow = arr.shape[-1] + 1 if arr.ndim else 2
    return np.resize(arr, arr.shape[:-1] + (grow,)) if arr.ndim else np.resize(arr, (2,))


def _fill_value(fill: Fill, name: str, arr: np.ndarray, base: Case, spec: Spec) -> float | None:
    if not arr.size:
        return None  # nothing to fill: the probe would test nothing
    if fill.values:
        kind = array_specs(spec, base.variant).get(name)
        if kind is None or kind.values != fill.values:
            return None  # this case's variant declares another kind of values (probabilities, not indices)
    if fill.formula is not None:
        try:
            return float(fill.formula.evaluate(base.env()))
        except Exception:
            return None
    if fill.dim is not None:
        size = dim_size(spec, base, fill.dim)
        return None if size is None else size + fill.offset
    if fill.negative_of is not None:
        return -2 if fill.negative_of and base.params.get(fill.negative_of) == -1 else -1
    return fill.value


def dim_size(spec: Spec, case: Case, dim: str) -> int | None:
    """A dim's size in this case, read from an array whose declared shape holds it: counted from the front
    before any variadic dims, from the back after them."""
    for name, a in array_specs(spec, case.variant).items():
        arr = case.arrays.get(name)
        if arr is None or not isinstance(a.shape, list):
            continue
        variadic = [i for i, d in enumerate(a.shape) if isinstance(d, str) and d.endswith("...")]
        for pos, d in enumerate(a.shape):
            if d != dim:
                continue
            if not variadic or pos < variadic[0]:
                at = pos
            elif pos > variadic[-1] and len(variadic) == 1:
                at = arr.ndim - (len(a.shape) - pos)
            else:
                continue
            if 0 <= at < arr.ndim:
                return int(arr.shape[at])
    return None
