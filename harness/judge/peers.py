"""Peer arbitration: where no doc decides a discrepancy, the other frameworks do.

The float64 reference decides what the docs state (the formula on finite inputs, a documented raise, a
documented dtype). Where they are silent (`Verdict.silent`: non-finite inputs, a result the formula
leaves non-finite or one that overflows, subgradients at kinks, gradients no doc gives), the same call
is made in each other framework's binding of the spec. A binding that agrees with at least one peer
and is not outnumbered by the peers that disagree has no finding there, whatever the reference says;
otherwise it keeps its verdict as an outlier, with every framework's result beside it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from harness.cases.case import Outcome, describe_array
from harness.run import wire
from harness.spec import dtypes

ARBITRATED = ("value", "subgradient", "unexpected-error", "shape", "missing-error", "wrong-error")
"""Verdicts peers can overrule. Crashes, hangs, memory and nondeterministic results are never a convention."""
NONFINITE_INPUT = "non-finite input"
NONFINITE_FORMULA = "the formula's result is not finite"
NONFINITE_RESULT = "non-finite result where the formula's is finite"
SUBGRADIENT = "subgradient at a kink"
GRADIENT = "no doc states the gradient"
RAISE = "no doc states what this input does"
DTYPES = "no doc lists the dtypes it supports"
OUTSIDE = "no doc states the value for an input outside what the docs describe"
CONVENTIONS = (NONFINITE_INPUT, NONFINITE_FORMULA, NONFINITE_RESULT, SUBGRADIENT)
"""Why-silent reasons that make a surviving outlier a convention (nan, inf, overflow, a kink's choice). A gradient
outlier at a smooth point is not one: it is the gradient of another formula, or of the same one less precisely."""
ULPS = 16  # results closer than this many of the coarser dtype's eps (relative) agree
FLOOR = 1e-9  # and never closer than this: peers sum in other orders, even in float64
CONVENTION_FLOOR = 1e-5  # where the question is a convention (nan, inf, a kink's choice), a peer computing
#                          float64 in float32 still shares it: its precision is another finding's matter
GRADIENT_FLOOR = 1e-8  # each framework differentiates with its own backward formula (another algebraic form,
#                        another epsilon: BCE's 1/max(x(1-x), 1e-12) against 1/(x(1-x) + 1e-12)), so float64
#                        gradients of the same rule differ by more than a few ulps; still 6x below float32's rounding
UNANSWERED_NO_CLAIM = (RAISE, GRADIENT, DTYPES, OUTSIDE, *CONVENTIONS)
"""Why-silent reasons where a binding no peer could answer for has no finding: no doc decides, and the reference
alone (a precondition's "raises", the formula's own nan or 0 * inf, a half-precision dtype no doc lists) is no
evidence that the binding misbehaves."""
HALF_UNIT = ("float16", "bfloat16")
"""Dtypes whose rounding is compared at unit scale at least: a half-precision result near 0 is the difference of
terms near 1, so two frameworks summing them in another order differ by an ulp of 1, not of the result."""


@dataclass(frozen=True)
class Result:
    """What one call gave, reduced to what peers compare: a value, an error (of any type: no doc says
    which), or nothing (no gradient for the input)."""

    kind: Literal["value", "error", "none"]
    value: np.ndarray | None = None
    dtype: str = "float64"
    error: str = ""
    warnings: tuple[str, ...] = ()  # the Python warnings the call raised (checks/warnings.py compares them)

    @classmethod
    def of_outcome(cls, outcome: Outcome) -> Result | None:
        """None for a crash or hang: those abstain."""
        if outcome.crash:
            return None
        if not outcome.ok:
            return cls("error", error=str((outcome.error or {}).get("type")))
        if outcome.value is None:
            return cls("none")
        return cls("value", np.asarray(dtypes.to_float64(outcome.value), dtype=np.float64),
                   outcome.dtype or dtypes.name(outcome.value))

    @classmethod
    def of_reply(cls, reply: dict[str, Any] | None) -> Result | None:
        """A worker's reply: a call's value, or (for a gradient request) the first gradient asked for, with the
        warnings it raised."""
        found = cls._of_reply(reply)
        if found is None or reply is None or not reply.get("warnings"):
            return found
        return replace(found, warnings=tuple(reply["warnings"]))

    @classmethod
    def _of_reply(cls, reply: dict[str, Any] | None) -> Result | None:
        if reply is None or reply.get("crash"):
            return None
        if reply.get("error"):
            return cls("error", error=str(reply["error"].get("type")))
        if "grads" in reply:
            grads = reply.get("grads") or [None]
            return cls("none") if grads[0] is None else cls.of_array(wire.decode_array(grads[0]), grads[0]["dtype"])
        if reply.get("value") is None:
            return cls("none")
        value = wire.decode_array(reply["value"])
        return cls.of_array(value, reply.get("dtype") or reply["value"]["dtype"])

    @classmethod
    def of_array(cls, value: np.ndarray | None, dtype: str) -> Result:
        return cls("none") if value is None else cls("value", np.asarray(dtypes.to_float64(value), dtype=np.float64), dtype)

    def shown(self) -> dict[str, Any]:
        if self.kind == "error":
            return {"error": self.error}
        if self.kind == "none":
            return {"value": None}
        return {"value": describe_array(self.value), "dtype": self.dtype}


def agree(a: Result, b: Result, floor: float = FLOOR, elements: bool = True) -> bool:
    """Same kind; for values the same shape, nan and ±inf in the same places, finite elements close
    (relative to the larger, with the largest element as scale: within ULPS eps of the coarser dtype, or `floor`).
    Without `elements`, two values of the same shape agree whatever they hold (the question is raise or compute)."""
    if a.kind != b.kind:
        return False
    if a.kind != "value":
        return True
    x, y = a.value, b.value
    assert x is not None and y is not None
    if x.shape != y.shape:
        return False
    if not elements:
        return True
    with np.errstate(all="ignore"):
        x, y = _overflowed(x, a.dtype, b.dtype), _overflowed(y, a.dtype, b.dtype)
        nan_x, nan_y = np.isnan(x), np.isnan(y)
        inf_x, inf_y = np.isinf(x), np.isinf(y)
        if (nan_x != nan_y).any() or (inf_x != inf_y).any() or (np.where(inf_x, x, 0) != np.where(inf_y, y, 0)).any():
            return False
        finite = ~(nan_x | inf_x)
        if not finite.any():
            return True
        fx, fy = x[finite], y[finite]
        tol = max(floor, ULPS * max(_eps(a.dtype), _eps(b.dtype)))
        scale = max(float(np.abs(fx).max()), float(np.abs(fy).max()), 1.0 if {a.dtype, b.dtype} & set(HALF_UNIT) else 0.0)
        return bool((np.abs(fx - fy) <= tol * (np.maximum(np.abs(fx), np.abs(fy)) + scale)).all())


def _overflowed(x: np.ndarray, *kinds: str) -> np.ndarray:
    """`x` as the narrower of two float dtypes would hold it: beyond its largest finite value, the signed infinity
    (a peer asked in float32 gives 6e11 where float16 overflows to inf: the same answer)."""
    narrow = [dtypes.max_value(k) for k in kinds if dtypes.is_float(k)]
    if not narrow:
        return x
    top = min(narrow)
    return np.where(np.isfinite(x) & (np.abs(x) > top), np.sign(x) * np.inf, x)


def _eps(dtype: str) -> float:
    return dtypes.eps(dtype) if dtypes.is_float(dtype) else 0.0


@dataclass(frozen=True)
class Peer:
    """One other framework's answer to the same call (None: it could not express the case, crashed or hung)."""

    framework: str
    target: str
    result: Result | None
    abstained: Result | None = None  # what it gave when that is no opinion on the question (shown, not counted)


def decide(mine: Result, peers: list[Peer], silent: str = "") -> tuple[bool, dict[str, Any]]:
    """Whether the peers share the binding's behaviour, and every framework's result for the report.

    Where the binding computed a value and the question is what that value should be (not whether to raise),
    a peer that raises has no opinion on it: it abstains (a dtype it lacks a kernel for, say).
    Where the question is whether to raise (RAISE), computing agrees with computing: what an input that breaks a
    precondition evaluates to is no question any doc asks. Where no peer answers a question no doc decides
    (UNANSWERED_NO_CLAIM), there is no finding: the reference alone does not decide it."""
    floor = CONVENTION_FLOOR if silent in CONVENTIONS else GRADIENT_FLOOR if silent == GRADIENT else FLOOR
    if silent != RAISE and mine.kind == "value":  # raising, or giving no gradient for the input, is no opinion on it
        peers = [p if p.result is None or p.result.kind == "value" else Peer(p.framework, p.target, None, p.result)
                 for p in peers]
    answered = [p for p in peers if p.result is not None]
    agreeing = [p for p in answered if agree(mine, p.result, floor, elements=silent != RAISE)]  # type: ignore[arg-type]
    shared = bool(agreeing) and len(agreeing) + 1 > len(answered) - len(agreeing)
    if not answered and silent in UNANSWERED_NO_CLAIM:
        shared = True
    shown: dict[str, Any] = {}
    for p in peers:
        if p.result is None:
            shown[p.framework] = {"target": p.target, "result": p.abstained.shown() if p.abstained else None,
                                  "agrees": None}
        else:
            shown[p.framework] = {"target": p.target, "result": p.result.shown(), "agrees": p in agreeing}
    return shared, shown


def summary(shown: dict[str, Any]) -> str:
    """One line for a finding's message: what each peer did on the same call."""
    parts = []
    for framework, entry in shown.items():
        result = entry["result"]
        if result is None:
            parts.append(f"{framework}: no answer")
        elif entry["agrees"] is None:
            parts.append(f"{framework} raises {result.get('error')} (no opinion on the value)" if "error" in result
                         else f"{framework}: no value (no opinion on it)")
        elif "error" in result:
            parts.append(f"{framework} raises {result['error']}")
        elif result["value"] is None:
            parts.append(f"{framework}: no value")
        else:
            parts.append(f"{framework} {'agrees' if entry['agrees'] else 'differs'}")
    return "peers on the same call: " + ", ".join(parts) if parts else "no peer could run the same call"
