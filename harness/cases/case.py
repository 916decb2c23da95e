"""A case: concrete inputs and parameters for one API, and how it is shown in reports."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from harness.spec import dtypes
from harness.spec.probes import shown

if TYPE_CHECKING:
    from harness.spec.formula import Formula

SUMMARY_ELEMENTS = 16  # arrays larger than this are summarized in reports


TWIN_VALUE = 0.5  # what a finite twin holds for nan and inf: inside every loss's domain, on no kink of the specs'

@dataclass(frozen=True, eq=False)
class Case:
    api: str
    arrays: dict[str, np.ndarray | None]  # inputs and tensor parameters, in spec names
    params: dict[str, Any]  # scalar parameters, in spec names
    variant: str | None = None
    omit: tuple[str, ...] = ()  # parameters left out of the call, so the binding's default applies
    origin: str = "generated"  # generated | invalid | example:<name> | regression:<name>
    expected: Any = None  # documented output, for doc examples
    decimals: int | None = None  # precision the documented output was printed with
    targets: tuple[str, ...] | None = None  # for checked-in cases: the targets they are about
    note: str = ""  # what an invalid case breaks, or a checked-in case's source
    regression: str = ""  # for a replayed case: the id of the accepted finding it reproduces
    explored: bool = False  # drawn with the run's seed (exploration), not from the fixed core
    probe: str = ""  # an invalid case's probe (its subject, and its group when derived: see cases/probes.py)
    crashes: bool = False  # a replayed case of an accepted crash: its crash rate is measured even when it runs clean
    unbatched: tuple[tuple[str, int], ...] = ()  # the spec's unbatched form: each array that lost the batch axis, and where

    def env(self) -> dict[str, Any]:
        """The names a formula or condition sees, arrays in their own dtype; an unbatched case's arrays with the batch
        axis put back (size 1): the spec's formulas and conditions are written for the batched form."""
        arrays = self.arrays
        if self.unbatched:
            arrays = dict(arrays)
            for name, axis in self.unbatched:
                a = arrays.get(name)
                if a is not None:
                    arrays[name] = np.expand_dims(a, axis)
        env: dict[str, Any] = {**self.params, **arrays, "variant": self.variant, "unbatched": bool(self.unbatched)}
        return env

    def with_(self, **changes: Any) -> Case:
        return replace(self, **changes)

    @property
    def size(self) -> int:
        return sum(0 if a is None else a.size for a in self.arrays.values())

    @cached_property
    def _fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(repr((self.api, self.variant, self.omit, sorted((k, repr(v)) for k, v in self.params.items()))).encode())
        if self.unbatched:  # (only then: every other case keeps the fingerprint it had)
            h.update(repr(self.unbatched).encode())
        for name in sorted(self.arrays):
            a = self.arrays[name]
            h.update(name.encode())
            if a is not None:
                h.update(dtypes.name(a).encode() + repr(a.shape).encode() + np.array(a, order="C").tobytes())
        return h.hexdigest()[:16]

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """What the orchestrator derived from this case alone (raise conditions, the output dtype rule),
        kept because every binding of a spec asks the same questions of the same case."""
        return {}

    @cached_property
    def empty(self) -> bool:
        """Whether an input holds no elements: a reduction over nothing, where some frameworks read memory nothing wrote."""
        return any(a is not None and a.size == 0 for a in self.arrays.values())

    @cached_property
    def nonfinite(self) -> bool:
        """Whether a float input holds nan or ±inf: there the docs are silent and peers decide."""
        return any(a is not None and dtypes.is_float(dtypes.name(a)) and a.size > 0
                   and not np.isfinite(dtypes.to_float64(a)).all() for a in self.arrays.values())

    def finite_twin(self) -> Case | None:
        """The case with every nan and ±inf of its float inputs set to TWIN_VALUE (None when it has none): where
        it shows a discrepancy too, the nan and inf have nothing to do with it."""
        if not self.nonfinite:
            return None
        arrays: dict[str, np.ndarray | None] = {}
        for name, a in self.arrays.items():
            if a is not None and dtypes.is_float(dtypes.name(a)) and a.size:
                wide = dtypes.to_float64(a)
                a = dtypes.cast(np.where(np.isfinite(wide), wide, TWIN_VALUE), dtypes.name(a))
            arrays[name] = a
        return self.with_(arrays=arrays)

    @property
    def setting(self) -> str:
        """Its variant and parameter values as one key: what spreading cases over a spec's settings compares."""
        return f"{self.variant}|{sorted((k, repr(v)) for k, v in self.params.items())}"

    def fingerprint(self) -> str:
        """Identity of the case's content (computed once: every binding of a spec asks)."""
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        """JSON-ready: params, and each array's dtype, shape and (possibly summarized) values."""
        return {
            "variant": self.variant,
            "params": {k: _shown(v) for k, v in self.params.items() if k not in self.omit},
            "omitted": list(self.omit),
            "inputs": {k: describe_array(v) for k, v in self.arrays.items()},
            "origin": self.origin,
            "note": self.note,
        } | ({"unbatched": dict(self.unbatched)} if self.unbatched else {})


def replayable(case: Case, target: str, finding: str, limit: int = 4096, crashes: bool = False) -> dict[str, Any] | None:
    """The case, losslessly, in the `cases/` file format (kind: regression); None when too large to keep."""
    if case.size > limit or case.origin not in ("generated", "invalid"):
        return None
    inputs: dict[str, Any] = {}
    for k, a in case.arrays.items():
        inputs[k] = None if a is None else {"dtype": dtypes.name(a), "shape": list(a.shape),
                                            "value": _jsonable(dtypes.to_float64(a).ravel().tolist()
                                                               if dtypes.is_float(dtypes.name(a)) else a.ravel().tolist())}
    record: dict[str, Any] = {"name": finding, "kind": "regression", "targets": [target], "origin": case.origin, "note": case.note,
                              "probe": case.probe, "variant": case.variant,
                              "params": {k: param_out(v) for k, v in case.params.items()}, "omit": list(case.omit),
                              "inputs": inputs}
    if crashes:
        record["crashes"] = True
    if case.unbatched:
        record["unbatched"] = dict(case.unbatched)
    return record


def param_out(v: Any) -> Any:
    """A parameter value for a case file, losslessly: a numpy scalar and a non-finite float are tagged
    (`{numpy: float32, value: 1.0}`, `{float: nan}`), since a probe passes exactly those (see param_in)."""
    if isinstance(v, np.generic):
        return {"numpy": type(v).__name__, "value": _jsonable(v.item())}
    if isinstance(v, float) and not np.isfinite(v):
        return {"float": _jsonable(v)}
    return v


def param_in(v: Any) -> Any:
    """The value `param_out` wrote."""
    if isinstance(v, dict) and set(v) == {"numpy", "value"}:
        return getattr(np, str(v["numpy"]))(float(v["value"]) if "float" in str(v["numpy"]) else v["value"])
    if isinstance(v, dict) and set(v) == {"float"}:
        return float(v["float"])
    return v


def _shown(v: Any) -> Any:
    """A parameter as a report shows it: a numpy scalar says so (a probe passes one where a float is documented)."""
    return shown(v) if isinstance(v, np.generic) else _jsonable(v)


def describe_array(a: np.ndarray | None) -> dict[str, Any] | None:
    if a is None:
        return None
    out: dict[str, Any] = {"dtype": dtypes.name(a), "shape": list(a.shape)}
    wide = dtypes.to_float64(a) if dtypes.name(a) == "bfloat16" else a
    if a.size <= SUMMARY_ELEMENTS:
        out["values"] = _jsonable(np.asarray(wide).tolist())
    else:
        f = np.asarray(wide, dtype=np.float64)
        finite = f[np.isfinite(f)]
        out["summary"] = {
            "min": _jsonable(float(finite.min())) if finite.size else None,
            "max": _jsonable(float(finite.max())) if finite.size else None,
            "nan": int(np.isnan(f).sum()), "inf": int(np.isinf(f).sum()),
            "first": _jsonable(f.ravel()[:8].tolist()),
        }
    return out


def _jsonable(v: Any) -> Any:
    """Plain JSON values; non-finite floats become the strings 'nan', 'inf', '-inf'."""
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if np.isfinite(f) else ("nan" if np.isnan(f) else ("inf" if f > 0 else "-inf"))
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


jsonable = _jsonable


Crash = Literal["crash", "timeout", "memory"]
"""How a call can fail without an answer: the worker died, stopped answering, or went over its memory limit."""


@dataclass
class Outcome:
    """What one binding did with one case: a value or an error, as received from its worker."""

    value: np.ndarray | None = None
    dtype: str | None = None  # the framework's own dtype name for the value
    error: dict[str, Any] | None = None  # {type, mro, message}
    crash: Crash | None = None  # with detail in `error`
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()  # the Python warnings the call raised ("Category: message")

    @property
    def ok(self) -> bool:
        return self.error is None and self.crash is None


def brief(o: Outcome, kind: bool = True) -> dict[str, Any]:
    """An outcome as a report shows it: the value described, or the error (with its crash kind when `kind`)."""
    if o.ok:
        return {"value": describe_array(o.value), "dtype": o.dtype}
    err = o.error or {}
    shown = {"error": err.get("type"), "message": err.get("message", "")[:500]}
    return jsonable({**shown, "kind": o.crash}) if kind else shown


def holds(condition: Formula, case: Case, params: dict[str, Any] | None = None) -> bool:
    """A spec condition on a case; a condition that cannot be evaluated does not hold."""
    env = case.env()
    env.update(params or {})
    try:
        return bool(condition.evaluate(env))
    except Exception:
        return False
