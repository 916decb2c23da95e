"""Invalid-input probes derived from a spec's own declarations, and the spec's hand-written ones.

A porting user passes what the docs do not promise: nan as a threshold, a numpy scalar where a float is
documented, an enum in capitals, integer or bool tensors, a float32 target for a float64 input, a class
index equal to the class count, a weight of zero, a target that broadcasts. Each declaration says what
lies outside it, so the probes are derived, not listed: a parameter's type, range and enum; an array's
dtypes, its role (`values:` index, probabilities, positive, ...) and its shape. A spec's `invalid:` adds
what a declaration cannot say; `exclude_probes:` removes a probe (by its key) or a group.

This module says what each probe is; cases/probes.py makes a case of it. Every probe case has origin
"invalid" and its key as its note; where no raise rule holds, peers decide what such an input should do
(see judge/verdicts.py), so the formula never judges an input the docs do not cover.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from harness.spec.formula import Formula
    from harness.spec.model import ArraySpec, Invalid, Param, Spec

GROUPS = ("spec", "enum", "type", "range", "nonfinite", "dtype", "mixed-dtype", "index", "domain", "shape")
"""What a probe comes from: the spec's own list, an enum, a parameter's type, its range, nan and inf, an
array's dtypes, two arrays' dtypes together, class indices, an array's documented values, its shape."""
ARRAY_DTYPES = ("float16", "bfloat16", "float32", "float64", "int32", "int64", "uint8", "bool")
"""The dtypes an array is probed in when its declaration does not list them."""
FLOATS = ("float16", "bfloat16", "float32", "float64")
UNSET: Any = object()


@dataclass(frozen=True)
class Fill:
    """What an input is filled with: a constant, a dim's size plus an offset, -1 (or -2 where the parameter
    `negative_of` names is -1: an index other than the ignored one), or a spec's expression over the case."""

    value: float | None = None
    dim: str | None = None
    offset: int = 0
    negative_of: str | None = None
    formula: Formula | None = None
    values: str = ""  # the value kind it breaks (a variant declaring another kind for the array is not probed)


@dataclass(frozen=True, eq=False)
class Probe:
    """One way to break a valid case. `key` names it (a case's note, what `exclude_probes` names)."""

    group: str
    subject: str  # the parameter or input it breaks
    key: str
    value: Any = UNSET  # a parameter's new value
    dtype: str | None = None  # an input's new dtype
    mixed: bool = False  # an input in another float dtype than the one its dtype follows
    shape: str | None = None  # mismatched | extra_dim | trailing_one
    fill: Fill | None = None

    @property
    def feature(self) -> str:
        """What a finding's region records (its `probe` key): the subject, and the group when derived."""
        return self.subject if self.group == "spec" else f"{self.subject}:{self.group}"


def derive(spec: Spec) -> tuple[list[Probe], list[tuple[int, str]]]:
    """The spec's probes (its hand-written ones first, then the derived ones not excluded, one per key), and each
    `exclude_probes` entry (index, name) that names neither a group nor a derived probe's key."""
    derived = [*_param_probes(spec), *_array_probes(spec)]
    known = set(GROUPS) | {p.key for p in derived}
    excluded = set(spec.model.exclude_probes)
    out: dict[str, Probe] = {}
    for i, inv in enumerate(spec.model.invalid):
        for p in _written(spec, i, inv):
            out.setdefault(p.key, p)
    for p in derived:
        if p.key not in excluded and p.group not in excluded:
            out.setdefault(p.key, p)
    unknown = [(i, name) for i, name in enumerate(spec.model.exclude_probes) if name not in known]
    return list(out.values()), unknown


# the spec's own list ------------------------------------------------------------------------------------
def _written(spec: Spec, index: int, inv: Invalid) -> list[Probe]:
    if inv.param:
        return [Probe("spec", inv.param, f"{inv.param}={v!r}", value=v) for v in inv.values]
    name = inv.input or ""
    if inv.fill:
        return [Probe("spec", name, f"{name} filled with {inv.fill}", fill=Fill(formula=spec.fills[index]))]
    if inv.dtype:
        return [Probe("spec", name, f"{name} as {inv.dtype}", dtype=inv.dtype)]
    return [Probe("spec", name, f"{name} {inv.shape}", shape=inv.shape)]


# parameters -----------------------------------------------------------------------------------------------
def _param_probes(spec: Spec) -> list[Probe]:
    out: list[Probe] = []
    for name, p in spec.model.params.items():
        if not _is_array(p):
            out += [Probe(group, name, f"{name}={shown(v)}", value=v) for group, v in _values(p)]  # type: ignore[arg-type]
    return out


def shown(v: Any) -> str:
    """A parameter value as a probe's key and a report show it (a numpy scalar says so)."""
    return f"numpy.{type(v).__name__}({v.item()!r})" if isinstance(v, np.generic) else repr(v)


def _values(p: Param) -> list[tuple[str, Any]]:
    """(group, value) outside what the parameter's declaration promises."""
    out: list[tuple[str, Any]] = []
    default = p.default
    if p.enum is not None and p.type == "str":
        out += [("enum", "bogus"), ("enum", "")]
        out += [("enum", v.upper()) for v in p.enum if isinstance(v, str) and v.upper() != v]
        return out + [("type", 1), ("type", None)]
    if p.enum is not None:  # a numeric choice: just outside it
        nums = [v for v in p.enum if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return [("range", min(nums) - 1), ("range", max(nums) + 1)] if nums else []
    if p.type == "float":
        out += [("nonfinite", math.nan), ("nonfinite", math.inf), ("nonfinite", -math.inf)]
        out += _range(p, 1.0)
        base = float(default) if isinstance(default, (int, float)) and not isinstance(default, bool) else 1.0
        whole = int(base) if base == int(base) else 1
        out += [("type", np.float32(base)), ("type", np.float64(base)), ("type", whole), ("type", True), ("type", str(base))]
    elif p.type == "int":
        out += _range(p, 1.0)
        base_i = int(default) if isinstance(default, int) and not isinstance(default, bool) else 1
        out += [("type", float(base_i)), ("type", np.int64(base_i)), ("type", True), ("type", str(base_i))]
    elif p.type == "bool":
        out += [("type", 1), ("type", 0), ("type", "True")]
    if default is not None:
        out.append(("type", None))
    return out


def _range(p: Param, step: float) -> list[tuple[str, Any]]:
    def cast(v: float) -> Any:
        return float(v) if p.type == "float" else int(v)

    out: list[tuple[str, Any]] = []
    if p.min is not None:
        if p.exclusive_min:
            out.append(("range", cast(p.min)))
        out.append(("range", cast(p.min - step)))
    if p.max is not None:
        out.append(("range", cast(p.max + step)))
    return out


# arrays -------------------------------------------------------------------------------------------------------
def array_specs(spec: Spec, variant: str | None) -> dict[str, ArraySpec]:
    """The spec's arrays as a variant declares them: inputs, then tensor-valued parameters."""
    out: dict[str, ArraySpec] = dict(spec.model.inputs)
    if variant is not None:
        out.update(spec.model.variants[variant].inputs)
    out.update({k: v for k, v in spec.model.params.items() if _is_array(v)})  # type: ignore[misc]
    return out


def _is_array(p: Param | ArraySpec) -> bool:
    """A tensor-valued parameter (an ArraySpec: this module is imported by the model, so it does not import it)."""
    return hasattr(p, "dtypes")


def declared(spec: Spec, name: str, variant: str | None) -> set[str]:
    """The dtypes an array's declaration allows in a variant (a `like NAME` array: NAME's)."""
    arrays = array_specs(spec, variant)
    a = arrays.get(name)
    seen: set[str] = set()
    while a is not None and isinstance(a.dtypes, str) and name not in seen:
        seen.add(name)
        name = a.dtypes.split(" ", 1)[1]
        a = arrays.get(name)
    return set(a.dtypes) if a is not None and isinstance(a.dtypes, list) else set()


def _array_probes(spec: Spec) -> list[Probe]:
    out: list[Probe] = []
    variants: list[str | None] = list(spec.model.variants) or [None]
    first = next(iter(spec.model.inputs))
    kinds: dict[str, list[ArraySpec]] = {}
    for v in variants:
        for name, a in array_specs(spec, v).items():
            if a not in kinds.setdefault(name, []):
                kinds[name].append(a)
    for name, forms in kinds.items():
        allowed = [declared(spec, name, v) for v in variants]
        # a dtype some variant does not declare (class indices as float32: the probabilities variant's dtype)
        out += [Probe("dtype", name, f"{name} as {d}", dtype=d) for d in ARRAY_DTYPES if any(d not in s for s in allowed)]
        if any(isinstance(k.dtypes, str) for k in forms) and any(s & set(FLOATS) for s in allowed):
            out.append(Probe("mixed-dtype", name, f"{name} in another float dtype", mixed=True))
        if name != first:
            out += [Probe("shape", name, f"{name} {s}", shape=s) for s in ("mismatched", "extra_dim")]
            if any(isinstance(k.shape, str) for k in forms):
                out.append(Probe("shape", name, f"{name} trailing_one", shape="trailing_one"))
        seen: set[str] = set()
        for k in forms:
            for key, group, fill in _value_fills(name, k):
                if key not in seen:
                    seen.add(key)
                    out.append(Probe(group, name, key, fill=fill))
    return out


def _value_fills(name: str, a: ArraySpec) -> list[tuple[str, str, Fill]]:
    """(key, group, fill) for values outside what an array's `values:` declares."""
    out: list[tuple[str, str, Fill]] = []
    if a.values in ("index", "padded_index") and a.classes:
        c = a.classes
        out += [(f"{name} filled with {c}", "index", Fill(dim=c, values=a.values)),
                (f"{name} filled with {c} + 1", "index", Fill(dim=c, offset=1, values=a.values))]
        if a.values == "index":  # a padded index's -1 is its documented end, not a probe
            out.append((f"{name} filled with a negative index", "index", Fill(negative_of=a.ignore or "", values=a.values)))
    elif a.values == "lengths" and a.bound:
        out += [(f"{name} filled with {a.bound} + 1", "domain", Fill(dim=a.bound, offset=1, values=a.values)),
                (f"{name} filled with -1", "domain", Fill(value=-1, values=a.values))]
    else:
        values = {"positive": [0.0, -1.0, math.inf], "unit": [-0.5, 1.5], "probabilities": [0.7, -0.5],
                  "binary": [0.5], "sign": [0.0], "log_probabilities": [0.5]}.get(a.values, [])
        out += [(f"{name} filled with {v!r}", "domain", Fill(value=v, values=a.values)) for v in values]
    return out
