"""Diagnoses: what a finding's head verdict measured, explained by the first hypothesis that holds.

Why: "1 of 1 elements differ" says nothing a maintainer can act on. Each hypothesis is tested
against the measured values, never assumed: the formula is evaluated again with the parameters
rounded to float32, with the inputs in float32, the framework's own documented formula is tried,
a constant ratio to the reference is compared with every parameter's value, values on empty
input are checked for numbers no computation on nothing gives. Where none holds, the diagnosis
says what was measured, plainly. A diagnosis is never empty.

`rule` names the hypothesis (free of drawn numbers) so that findings diagnosed alike can form one
cause; `implies` is the class a hypothesis stands for, when it decides one (see classes.classify).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.cases.case import TWIN_VALUE, Case
from harness.judge import compare
from harness.judge.gradref import derive
from harness.judge.reference import Reference, evaluate
from harness.judge.verdicts import Verdict, matching_rules
from harness.spec import dtypes
from harness.spec.formula import Formula
from harness.spec.model import ArraySpec
from harness.spec.names import INTERFACE


@dataclass(frozen=True)
class Diagnosis:
    rule: str  # which hypothesis held ("param-float32:delta", "ratio:delta", "measured:nan", ...): a cause's key
    text: str  # what it says, with the measured numbers
    implies: str | None = None  # the class the hypothesis stands for, when it decides one


def diagnose(v: Verdict) -> Diagnosis:
    """The diagnosis of one (head) verdict, with what its finite twin showed (`Case.finite_twin`, tried by `region.locate`): the twin's
    hypothesis decides the class (a parameter stored as float32 shows as well without the nan)."""
    d = _diagnose(v)
    if v.finite_twin is None:
        return d
    twin = _diagnose(v.finite_twin)
    return Diagnosis(d.rule, f"{d.text}; the same on finite input (every nan and inf set to {TWIN_VALUE}): {twin.text}",
                     twin.implies or d.implies)


def _diagnose(v: Verdict) -> Diagnosis:
    """The first hypothesis that holds; a failing hypothesis test falls through to the next."""
    for test in (_unstable, _nondeterministic, _interface, _growth, _option, _stale, _errors, _values, _gradient):
        try:
            found = test(v)
        except Exception as exc:  # a hypothesis that cannot be tested on this case is not evidence
            found = None
            if test is _values:
                return Diagnosis(f"{v.verdict}", f"{_fallback(v)} (diagnosis failed: {type(exc).__name__})")
        if found is not None:
            return found
    return Diagnosis(f"{v.verdict}", _fallback(v))


# -- reading what a verdict recorded ------------------------------------------------------------------

def _array(described: Any) -> np.ndarray | None:
    """A described array (Case.describe's form) back as float64; None when it was summarized."""
    if not isinstance(described, Mapping) or "values" not in described:
        return None
    def num(x: Any) -> Any:
        if isinstance(x, list):
            return [num(y) for y in x]
        return float(x) if isinstance(x, (str, int, float)) and not isinstance(x, bool) else math.nan
    try:
        return np.asarray(num(described["values"]), dtype=np.float64).reshape(described.get("shape", ()))
    except (TypeError, ValueError):
        return None


def _outputs(shown: Any) -> list[np.ndarray]:
    """Every array value in an expected/actual record (e.g. the runs of a nondeterministic call)."""
    out: list[np.ndarray] = []
    if isinstance(shown, Mapping):
        if "values" in shown and "shape" in shown:
            a = _array(shown)
            return [a] if a is not None else []
        for x in shown.values():
            out += _outputs(x)
    return out


def _empty(case: Case | None) -> bool:
    return case is not None and case.empty


def _num(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else str(x)


def _first_line(text: str, n: int = 100) -> str:
    line = next((s.strip() for s in (text or "").splitlines() if s.strip() and not s.strip().startswith("-")), "")
    return line if len(line) <= n else line[: n - 1] + "…"


def _names(frameworks: list[str]) -> str:
    return frameworks[0] if len(frameworks) == 1 else ", ".join(frameworks[:-1]) + " and " + frameworks[-1]


def _peer(result: Any) -> tuple[str, Any]:
    """A peer's result as ("error", type name) or ("value", array or None), whatever form it was stored in."""
    if isinstance(result, np.ndarray):
        return "value", result.astype(np.float64)
    if hasattr(result, "ok") and hasattr(result, "value"):  # an Outcome
        if not result.ok:
            return "error", (result.error or {}).get("type") or result.crash or "an error"
        return "value", None if result.value is None else np.asarray(result.value, np.float64)
    if isinstance(result, Mapping):
        if result.get("error") or result.get("kind"):
            return "error", result.get("error") or result.get("kind")
        value = result.get("value", result)
        return "value", _array(value) if isinstance(value, Mapping) else (
            np.asarray(value, np.float64) if isinstance(value, (int, float, list)) else None)
    return "value", None


def _fallback(v: Verdict) -> str:
    m = v.metrics or {}
    if "mismatched" in m:
        return f"{m['mismatched']} of {m.get('total')} elements differ: max abs error {m.get('max_abs')}"
    return _first_line(v.message) or f"{v.verdict} in the {v.check} check"


# -- crashes, hangs, memory --------------------------------------------------------------------------

def _unstable(v: Verdict) -> Diagnosis | None:
    if v.verdict not in ("crash", "timeout", "memory"):
        return None
    on = " on empty input" if _empty(v.case) else ""
    if v.verdict == "timeout":
        return Diagnosis("timeout", f"hangs{on}: {_first_line(v.message)}")
    if v.verdict == "memory":
        return Diagnosis("memory", f"runs out of memory{on}: {_first_line(v.message)}")
    signal = re.search(r"signal (\w+)", v.message or "")
    how = f"killed by {signal.group(1)}" if signal else _first_line(v.message)
    runs = v.metrics.get("crash_runs")
    rate = f" in {round(v.metrics['crash_rate'] * runs)} of {runs} runs" if runs else ""
    if v.metrics.get("crash_history_only"):  # see judge/stability.crash_rate
        rate += ", only after other calls in the same process"
    return Diagnosis(f"crash:{signal.group(1) if signal else 'died'}{':empty' if on else ''}",
                     f"the process dies{on}{rate} ({how})")


def _nondeterministic(v: Verdict) -> Diagnosis | None:
    if v.verdict != "nondeterministic":
        return None
    seen = [_num(float(x)) for a in _outputs(v.expected) + _outputs(v.actual) for x in a.ravel()[:1]]
    if _empty(v.case):
        return Diagnosis("empty-memory", f"varies between runs on empty input ({', '.join(seen)}): "
                         "memory read before it was written", "crash-memory")
    return Diagnosis("varies", f"varies between runs of the same call{' (' + ', '.join(seen) + ')' if seen else ''}")


def _stale(v: Verdict) -> Diagnosis | None:
    """On empty input a call computes from nothing: a sum gives 0, a mean nan, an extremum ±inf. A value that is
    none of those (nor the reference's) came from memory that was never written."""
    if v.verdict != "value" or not _empty(v.case) or v.case is None:
        return None
    ref = evaluate(v.binding.spec.formula, v.case).value
    allowed = [0.0] + ([float(x) for x in ref.ravel() if not np.isnan(x)] if ref is not None else [])
    mean_like = ref is None or not ref.size or bool(np.isnan(ref).any())
    # a sum over nothing is exactly 0 (1e-33 is memory, not rounding) and a mean nan (0/0); ±inf needs a nonzero
    # sum, so it too is memory nothing wrote
    # (unless the reference itself is infinite there), and so is nan where the reference is a sum's 0 (memory a
    # framework fills with nan before use: torch's deterministic mode)
    odd = sorted({float(x) for a in _outputs(v.actual) for x in a.ravel()
                  if not (np.isnan(x) and mean_like) and not any(x == y or (y != 0 and np.isfinite(x) and np.isfinite(y) and
                                                            abs(x - y) <= 1e-6 * abs(y)) for y in allowed)})
    if not odd:
        return None
    shown = "nan" if ref is None or not ref.size else _num(float(ref.ravel()[0]))
    return Diagnosis("empty-memory", f"gives {', '.join(_num(x) for x in odd[:3])} on empty input where nothing is "
                     f"computed (the reference: {shown}): uninitialised memory", "crash-memory")


# -- error behaviour ---------------------------------------------------------------------------------

def _answers(v: Verdict) -> dict[str, Any]:
    """Each peer's result on the same call (peers.decide's entries), but for those with no answer or no
    opinion on the question."""
    out = {}
    for name, entry in sorted(v.peers.items()):
        result = entry.get("result", entry) if isinstance(entry, Mapping) else entry
        if result is None or (isinstance(entry, Mapping) and "agrees" in entry and entry["agrees"] is None):
            continue
        out[name] = result
    return out


def _peer_split(v: Verdict) -> tuple[list[str], dict[str, list[str]]]:
    """Peers that computed, and peers that raised (by error type)."""
    computed: list[str] = []
    raised: dict[str, list[str]] = {}
    for name, result in _answers(v).items():
        kind, what = _peer(result)
        if kind == "error":
            raised.setdefault(str(what), []).append(name)
        else:
            computed.append(name)
    return computed, raised


def _rule_text(v: Verdict) -> str:
    if v.case is None:
        return ""
    rules = matching_rules(v.binding.raises, v.case) or matching_rules(v.binding.spec.raises, v.case)
    return f" when {rules[0].when}" if rules else ""


def _errors(v: Verdict) -> Diagnosis | None:
    err = v.actual if isinstance(v.actual, Mapping) else {}
    exp = v.expected if isinstance(v.expected, Mapping) else {}
    computed, raised = _peer_split(v)
    on = " on empty input" if _empty(v.case) else ""
    if v.verdict == "unexpected-error":
        kind = err.get("error") or "an error"
        where = f"where {_names(computed)} compute" if computed else "where a value was expected"
        return Diagnosis(f"raises:{kind}",
                         f"raises {kind}{on} {where}{_dtype_note(v)}: {_first_line(str(err.get('message', '')))}")
    if v.verdict == "missing-error":
        wanted = exp.get("error") or "an error"
        if raised:
            kinds = ", ".join(f"{_names(names)} {'raises' if len(names) == 1 else 'raise'} {kind}"
                              for kind, names in sorted(raised.items()))
            return Diagnosis(f"computes:{wanted}", f"returns a value where {kinds}{_rule_text(v)}")
        whose = "its docs" if v.case is not None and matching_rules(v.binding.raises, v.case) else "the common spec"
        if wanted == "Exception":  # a precondition: no doc says what breaking it does
            return Diagnosis(f"computes:{wanted}{_rule_text(v)}",
                             f"returns a value for an input that breaks a precondition of {whose}{_rule_text(v)}")
        return Diagnosis(f"computes:{wanted}{_rule_text(v)}",
                         f"returns a value where {whose} {'say' if whose == 'its docs' else 'says'} it raises {wanted}{_rule_text(v)}")
    if v.verdict == "wrong-error":
        kind, wanted = err.get("error") or "an error", exp.get("error") or "another error"
        peers = f" ({_names([n for names in raised.values() for n in names])} raise {', '.join(raised)})" if raised else ""
        return Diagnosis(f"wrong-error:{kind}:{wanted}",
                         f"raises {kind} where {wanted} is documented{_rule_text(v)}{peers}: "
                         f"{_first_line(str(err.get('message', '')))}")
    return None


def _dtype_note(v: Verdict) -> str:
    if v.check != "dtypes" or v.case is None:
        return ""
    kinds = sorted({dtypes.name(a) for a in v.case.arrays.values() if a is not None and dtypes.is_float(dtypes.name(a))})
    return f" (inputs {', '.join(kinds)})" if kinds else ""


# -- values ------------------------------------------------------------------------------------------

def _interface(v: Verdict) -> Diagnosis | None:
    """A finding about how the binding is called (names, order, defaults), or a warning it raises, is its check and
    subject, whatever it returned."""
    if v.verdict in ("signature", "warning") or v.check in INTERFACE:
        return Diagnosis(f"{v.check}:{v.subject or _first_line(v.message)}", _first_line(v.message, 200) or v.check)
    return None


def _growth(v: Verdict) -> Diagnosis | None:
    """A reduction's error beyond pairwise summation's bound at some size: a precision finding, by its plot."""
    if v.check != "precision-growth" or v.verdict != "value":
        return None
    return Diagnosis(f"precision-growth:{v.subject}", _first_line(v.message, 200), "precision")


def _option(v: Verdict) -> Diagnosis | None:
    """A framework-only parameter at another documented value computing something else than its docs say: the option
    and what it gave (its message), whatever the common formula's hypotheses would say of the value."""
    if v.check != "options" or v.verdict not in ("value", "shape"):
        return None
    return Diagnosis(f"options:{v.subject}:{v.verdict}", _first_line(v.message, 300))


def _values(v: Verdict) -> Diagnosis | None:
    if v.check == "gradients":
        return None
    if v.verdict == "shape":
        e, a = (v.expected or {}).get("value") or {}, (v.actual or {}).get("value") or {}
        return Diagnosis("shape", f"output shape {a.get('shape')} where the reference has {e.get('shape')}")
    if v.verdict == "dtype":
        return Diagnosis(f"dtype:{_first_line(v.message)}", _first_line(v.message) or "another output dtype")
    if v.verdict == "subgradient":
        return Diagnosis("subgradient", _first_line(v.message, 200) or "a kink no documentation covers")
    if v.verdict != "value" or v.case is None or not isinstance(v.actual, Mapping):
        return None
    act = _array(v.actual.get("value"))
    out_dtype = str(v.actual.get("dtype") or (v.actual.get("value") or {}).get("dtype") or "float64")
    if act is None:
        return Diagnosis("measured:summary", _fallback(v))
    return ValueTests(v, act, out_dtype).run()


class ValueTests:
    """The hypotheses about one value verdict, tested in order: the first that holds explains it."""

    def __init__(self, v: Verdict, act: np.ndarray, out_dtype: str) -> None:
        assert v.case is not None
        self.v, self.case, self.act, self.dtype = v, v.case, act, out_dtype
        self.common = evaluate(v.binding.spec.formula, v.case)
        self.own = evaluate(v.binding.formula, v.case) if v.binding.formula is not None else None

    def matches(self, ref: Reference | None, dtype: str | None = None) -> bool:
        if ref is None or ref.value is None or np.shape(ref.value) != np.shape(self.act):
            return False
        return compare.compare(self.act, ref.value, dtype or self.dtype, lambda: ref.lowp, ref.accumulation,
                               ref.scale).verdict == "match"

    def run(self) -> Diagnosis:
        facts = [self.ratio(), self.peers()]
        primary = (self.own_formula() or self.common_formula() or self.stored_float32() or self.computed_float32()
                   or self.float32_rounding()
                   or self.input_scale() or self.clamped())
        primary = primary or next((f for f in facts if f is not None), None) or self.measured()
        extra = [f.text for f in facts if f is not None and f is not primary]
        return Diagnosis(primary.rule, "; ".join([primary.text, *extra]), primary.implies)

    def formulas(self) -> list[tuple[str, Formula, Reference]]:
        """The formulas the verdict failed against: its own documented one first (where it has one), then the
        common one unless the result matches it (a rounded parameter cannot explain what needs no explaining)."""
        out = []
        if self.own is not None and self.v.binding.formula is not None:
            out.append(("follows its own documented formula", self.v.binding.formula, self.own))
        if self.v.peer != "match":
            out.append(("follows the formula", self.v.binding.spec.formula, self.common))
        return out

    def common_formula(self) -> Diagnosis | None:
        """It matches the common formula, not the other one its own docs give: one of the two docs is wrong."""
        if self.v.peer == "match" and self.own is not None and self.v.doc != "match":
            return Diagnosis("common-formula", "follows the common formula (as its peers' docs give it), not the "
                             "other one its own docs state: its docs or its kernel are wrong")
        return None

    def own_formula(self) -> Diagnosis | None:
        if self.v.peer != "match" and self.own is not None and self.matches(self.own):
            return Diagnosis("own-formula", "follows its own documented formula")
        return None

    def float_params(self) -> list[tuple[str, float]]:
        return [(k, float(x)) for k, x in self.case.params.items()
                if isinstance(x, float) and math.isfinite(x) and float(np.float32(x)) != x]

    def stored_float32(self) -> Diagnosis | None:
        """A parameter rounded to float32 before use: the formula with that one parameter rounded matches."""
        for says, formula, _ref in self.formulas():
            for name, x in self.float_params():
                rounded = float(np.float32(x))
                if self.matches(evaluate(formula, self.case, {name: rounded})):
                    shown = self.v.binding.name_of(name) or name
                    return Diagnosis(f"param-float32:{name}", f"{says} with parameter {shown} stored as float32 "
                                     f"({x!r} is {rounded!r}, relative error {_num(abs(rounded - x) / abs(x))})",
                                     "precision")
        return None

    def computed_float32(self) -> Diagnosis | None:
        """Float64 inputs computed in float32: it matches the formula on the inputs rounded to float32, at float32's
        tolerance, where it does not match at float64's."""
        wide = [k for k, a in self.case.arrays.items() if a is not None and dtypes.name(a) == "float64"]
        if not wide or self.dtype != "float64":
            return None
        with np.errstate(over="ignore"):
            narrow = self.case.with_(arrays={k: (a.astype(np.float32) if k in wide and a is not None else a)
                                             for k, a in self.case.arrays.items()})
        params = {k: float(np.float32(x)) for k, x in self.float_params()}
        for says, formula, _ref in self.formulas():
            ref32 = evaluate(formula, narrow, params)
            if self.matches(ref32, "float32") and _nearer(self.act, ref32.value, _ref.value):
                with np.errstate(all="ignore"):
                    err = np.abs(self.act - ref32.value)
                err = err[np.isfinite(err)]
                return Diagnosis("float32", f"computed in float32: {says} evaluated in float32 (float64 inputs "
                                 f"{', '.join(wide)}; max abs error {_num(float(err.max()) if err.size else 0.0)})",
                                 "precision")
        return None

    def float32_rounding(self) -> Diagnosis | None:
        """A float64 result within float32 rounding of the reference everywhere: some step computed in float32."""
        if self.dtype != "float64":
            return None
        _says, ref = self.basis
        rel = _float32_level(self.act, ref.value)
        if rel is None:
            return None
        return Diagnosis("float32-rounding", f"within float32 rounding of {_says} on float64 inputs (max relative "
                         f"error {_num(rel)}): some step is computed in float32", "precision")

    def input_scale(self) -> Diagnosis | None:
        """A float64 result off by far less than float32's rounding of the inputs' magnitude (nan and inf where the
        reference has them): an epsilon no doc states, or a cancellation (1 - cos where cos is near 1). The error
        relative to a result near 0 says nothing; relative to what the inputs are, it says how small it is."""
        if self.dtype != "float64":
            return None
        _says, ref = self.basis
        if ref.value is None or np.shape(ref.value) != np.shape(self.act):
            return None
        with np.errstate(all="ignore"):
            r, a = np.asarray(ref.value, np.float64), np.asarray(self.act, np.float64)
            if not np.array_equal(np.isfinite(a), np.isfinite(r)) or not np.isfinite(a).any():
                return None
            finite = np.isfinite(a)
            inputs = [x[np.isfinite(x)] for x in (dtypes.to_float64(v) for v in self.case.arrays.values() if v is not None)]
            scale = max([float(np.abs(x).max()) for x in inputs if x.size] + [float(np.abs(r[finite]).max())])
            err = float(np.abs(a - r)[finite].max())
        if not 0 < err <= INPUT_SCALE * scale:
            return None
        return Diagnosis("input-scale", f"off by {_num(err)} where the inputs are of magnitude {_num(scale)} "
                         f"({_num(err / scale)} of it): an epsilon or a cancellation no doc states", "precision")

    @property
    def basis(self) -> tuple[str, Reference]:
        """What the verdict failed against: the common formula, or (when that matched) its own documented one."""
        if self.v.peer == "match" and self.own is not None:
            return "its own documented formula", self.own
        return "the reference", self.common

    def differing(self, against: Reference | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        base = against or self.common
        ref = base.value
        if ref is None or np.shape(ref) != np.shape(self.act):
            return None
        mask = compare.compare(self.act, ref, self.dtype, lambda: base.lowp, base.accumulation, base.scale).mask
        if mask is None:
            return None
        return self.act.ravel(), np.asarray(ref, np.float64).ravel(), mask.ravel()

    def clamped(self) -> Diagnosis | None:
        """Every differing element is the same finite value where the reference lies beyond it (or is infinite)."""
        got = self.differing()
        if got is None:
            return None
        act, ref, mask = got
        a, e = act[mask], ref[mask]
        if not a.size or not np.isfinite(a).all() or not (a == a[0]).all() or a[0] == 0:
            return None
        c = float(a[0])
        beyond = np.isinf(e) & (np.sign(e) == np.sign(c))
        if beyond.all() or (a.size > 1 and ((np.abs(e) > abs(c)) & (np.sign(e) == np.sign(c))).all()):
            return Diagnosis(f"clamp:{_num(c)}", f"clamped at {_num(c)}: gives {_num(c)} where the reference is "
                             f"{', '.join(sorted({_num(float(x)) for x in e[:4]}))}")
        return None

    def ratio(self) -> Diagnosis | None:
        """A constant ratio to the reference over its nonzero elements: named after the parameter (or the count
        of rows) it equals."""
        got = self.differing()
        if got is None:
            return None
        act, ref, mask = got
        use = np.isfinite(act) & np.isfinite(ref) & (ref != 0)
        if not (use & mask).any():
            return None
        with np.errstate(all="ignore"):
            r = act[use] / ref[use]
        r0 = float(np.median(r))
        tol = max(1e-6, 16 * dtypes.eps(self.dtype))
        if r0 == 0 or not np.all(np.abs(r - r0) <= tol * abs(r0)) or abs(r0 - 1) <= tol:
            return None
        for name, x in sorted(self.case.params.items()):
            if isinstance(x, (int, float)) and not isinstance(x, bool) and x not in (0, 1, -1):
                shown = self.v.binding.name_of(name) or name
                if abs(r0 - x) <= tol * abs(x):
                    return Diagnosis(f"ratio:{name}", f"equals the reference × {shown} ({shown}={x!r})")
                if abs(r0 * x - 1) <= tol:
                    return Diagnosis(f"ratio:1/{name}", f"equals the reference ÷ {shown} ({shown}={x!r})")
        counts = self.ignored_counts()
        if counts is not None:
            total, kept = counts
            if kept and abs(r0 - kept / total) <= tol:
                return Diagnosis("divides-including-ignored", f"divides by N including ignored rows ({total} rows, "
                                 f"{total - kept} of them ignored; the reference divides by {kept})")
        if r0 == -1:
            return Diagnosis("ratio:-1", "has the opposite sign of the reference")
        if r.size > 1:
            return Diagnosis("ratio", f"equals the reference × {_num(r0)} (a constant ratio over {r.size} elements)")
        for k in (2, 3, 4):  # one element: only a whole multiple (or part) of it is worth naming
            for factor, shown in ((k, str(k)), (1 / k, f"1/{k}")):
                if abs(r0 - factor) <= tol * factor:
                    return Diagnosis(f"ratio:{shown}", f"is {shown} times the reference (its one element)")
        return None

    def ignored_counts(self) -> tuple[int, int] | None:
        """(rows, rows not ignored) of the index input whose `ignore:` parameter the case sets."""
        for name, spec in self.v.binding.spec.model.inputs.items():
            a = self.case.arrays.get(name)
            if isinstance(spec, ArraySpec) and spec.ignore and a is not None and spec.ignore in self.case.params:
                if a.dtype.kind in "iu" and a.size:
                    return int(a.size), int((a != self.case.params[spec.ignore]).sum())
        return None

    def peers(self) -> Diagnosis | None:
        """What the peers gave on the same call: nan (or inf) where they give a number, or that they agree."""
        values = {n: a for n, (kind, a) in ((n, _peer(r)) for n, r in _answers(self.v).items())
                  if kind == "value" and a is not None and np.shape(a) == np.shape(self.act)}
        if not values:
            return None
        finite = np.logical_and.reduce([np.isfinite(a) for a in values.values()])
        names = _names(sorted(values))
        for what, test in (("nan", np.isnan), ("inf", np.isinf)):
            where = test(self.act) & finite
            if where.any():
                return Diagnosis(f"peers-{what}", f"{what} where {names} give a number ({int(where.sum())} of "
                                 f"{self.act.size} elements)")
        first = next(iter(values.values()))
        if all(compare.same_result(first, a) for a in values.values()):
            return Diagnosis("peers-agree", f"differs from {names}, which agree with each other")
        return None

    def measured(self) -> Diagnosis:
        said, base = self.basis
        got = self.differing(base)
        if got is None:
            e = self.common.value
            return Diagnosis("measured:shape", f"gives shape {list(self.act.shape)} where the reference gives "
                             f"{list(np.shape(e)) if e is not None else 'nothing'}")
        act, ref, mask = got
        parts, kinds = [], []
        finite = mask & np.isfinite(act) & np.isfinite(ref)
        if finite.any():
            err = np.abs(act - ref)[finite]
            rel = err / np.maximum(np.abs(ref[finite]), dtypes.tiny(self.dtype))
            parts.append(f"max abs error {_num(float(err.max()))} (rel {_num(float(rel.max()))}) at "
                         f"{int(finite.sum())} of {act.size} elements" + ("" if base is self.common else f" from {said}"))
            kinds.append("finite")
        checks: list[tuple[str, str, Callable[[np.ndarray], Any], Callable[[np.ndarray], Any]]] = [
            ("nan", "nan where the reference is finite", np.isnan, np.isfinite),
            ("finite-for-nan", "a number where the reference is nan", np.isfinite, np.isnan),
            ("inf", "inf where the reference is finite", np.isinf, np.isfinite),
            ("finite-for-inf", "finite where the reference is inf", np.isfinite, np.isinf),
            ("sign-of-inf", "the opposite infinity", np.isinf, np.isinf)]
        for kind, text, on_act, on_ref in checks:
            where = mask & on_act(act) & on_ref(ref)
            if where.any():
                parts.append(f"{text} at {int(where.sum())} of {act.size} element{'s' if act.size != 1 else ''}")
                kinds.append(kind)
        if _empty(self.case) and act.size == 1:
            return Diagnosis("empty-input", f"gives {_num(float(act[0]))} on empty input where the reference is "
                             f"{_num(float(ref[0]))}")
        if not parts:
            parts, kinds = [_fallback(self.v)], ["other"]
        return Diagnosis("measured:" + "+".join(kinds), "; ".join(parts))


# -- gradients ---------------------------------------------------------------------------------------

def _gradient(v: Verdict) -> Diagnosis | None:
    if v.check != "gradients" or v.verdict != "value":
        return None
    exp, act = _array((v.expected or {}).get("gradient")), _array((v.actual or {}).get("gradient"))
    wrt = (v.actual or {}).get("wrt") or (v.metrics or {}).get("wrt") or "input"
    if exp is None or act is None or exp.shape != act.shape:
        return Diagnosis("gradient:measured", f"gradient of {wrt}: {_fallback(v)}")
    precision = _gradient_precision(v, str(wrt), act, exp)
    if precision is not None:
        return precision
    parts, kinds = [], []
    with np.errstate(all="ignore"):
        finite = np.isfinite(exp) & np.isfinite(act)
        err = np.abs(exp - act)[finite]
        bad = err > 4 * dtypes.eps(str((v.actual or {}).get("dtype") or "float64")) * np.maximum(np.abs(exp[finite]), 1)
    if bad.any():
        parts.append(f"max abs error {_num(float(err.max()))} at {int(bad.sum())} of {exp.size} elements")
        kinds.append("finite")
    for kind, text, where in (("nan", "nan where the reference is finite", np.isnan(act) & np.isfinite(exp)),
                              ("finite-for-nan", "a number where the reference is nan", np.isfinite(act) & np.isnan(exp)),
                              ("inf", "inf where the reference is finite", np.isinf(act) & np.isfinite(exp))):
        if where.any():
            parts.append(f"{text} at {int(where.sum())} of {exp.size} elements")
            kinds.append(kind)
    text = "; ".join(parts) or _fallback(v)
    return Diagnosis("gradient:" + "+".join(kinds or ["other"]), f"gradient of {wrt}: {text}")


GRADIENT_MATCH = 1e-11  # relative: a hypothesis holds for a float64 gradient only when it explains it to rounding


def _gradient_precision(v: Verdict, wrt: str, act: np.ndarray, exp: np.ndarray) -> Diagnosis | None:
    """The gradient of the documented formula (its own where it has one) with one parameter stored as float32,
    or with float64 inputs computed in float32: the hypotheses of the values check, differentiated."""
    if v.case is None or str((v.actual or {}).get("dtype") or "float64") != "float64":
        return None
    formula = v.binding.formula or v.binding.spec.formula

    def gradient(case: Case) -> np.ndarray | None:
        got = derive(formula, case, [wrt])
        g = got.inputs.get(wrt)
        return None if got.error or g is None or g.value.shape != act.shape else g.value

    def close(g: np.ndarray | None, rtol: float) -> bool:
        if g is None:
            return False
        with np.errstate(all="ignore"):
            scale = float(np.nanmax(np.abs(np.where(np.isfinite(g), g, 0.0)), initial=0.0))
            same_specials = np.array_equal(np.isnan(act), np.isnan(g)) and np.array_equal(np.isinf(act), np.isinf(g))
            finite = np.isfinite(act) & np.isfinite(g)
            return same_specials and bool((np.abs(act - g)[finite] <= rtol * max(scale, dtypes.tiny("float64"))).all())

    for name, x in sorted(v.case.params.items()):
        if isinstance(x, float) and math.isfinite(x) and float(np.float32(x)) != x:
            rounded = float(np.float32(x))
            if close(gradient(v.case.with_(params={**v.case.params, name: rounded})), GRADIENT_MATCH):
                shown = v.binding.name_of(name) or name
                return Diagnosis(f"param-float32:{name}", f"gradient of {wrt}: follows the formula with parameter "
                                 f"{shown} stored as float32 ({x!r} is {rounded!r})", "precision")
    wide = {k for k, a in v.case.arrays.items() if a is not None and dtypes.name(a) == "float64"}
    if wide:
        with np.errstate(over="ignore"):
            narrow = v.case.with_(arrays={k: (a.astype(np.float32) if k in wide and a is not None else a)
                                          for k, a in v.case.arrays.items()},
                                  params={k: (float(np.float32(x)) if isinstance(x, float) else x)
                                          for k, x in v.case.params.items()})
        g32 = gradient(narrow)
        if close(g32, ULPS32 * dtypes.eps("float32")) and _nearer(act, g32, exp):
            return Diagnosis("float32", f"gradient of {wrt}: computed in float32 (float64 inputs "
                             f"{', '.join(sorted(wide))})", "precision")
    rel = _float32_level(act, exp)
    if rel is not None:
        return Diagnosis("float32-rounding", f"gradient of {wrt}: within float32 rounding of the reference on float64 "
                         f"inputs (max relative error {_num(rel)}): some step is computed in float32", "precision")
    return None


def _float32_level(act: np.ndarray, ref: np.ndarray | None) -> float | None:
    """The largest relative error when every element of a float64 result is the reference's to float32 rounding
    (nan and inf in the same places, some element beyond float64's): a step computed in float32 (a divisor, a
    parameter and a divisor at once) that no single hypothesis names; None otherwise."""
    if ref is None or np.shape(ref) != np.shape(act):
        return None
    with np.errstate(all="ignore"):
        r = np.asarray(ref, np.float64)
        if not (np.array_equal(np.isnan(act), np.isnan(r)) and np.array_equal(np.isinf(act), np.isinf(r))):
            return None
        finite = np.isfinite(act) & np.isfinite(r)
        if not finite.any() or (np.where(np.isinf(act), act, 0) != np.where(np.isinf(r), r, 0)).any():
            return None
        scale = max(float(np.abs(r[finite]).max()), dtypes.tiny("float64"))
        rel = float((np.abs(act - r)[finite]).max()) / scale
    # below a thousandth of float32's eps it is float64 rounding spread over steps, never a float32 step
    return rel if FLOAT32_FLOOR * dtypes.eps("float32") < rel <= ULPS32 * dtypes.eps("float32") else None


FLOAT32_FLOOR = 1e-3  # a float32 step leaves at least this fraction of float32's eps (a thousand float64 ulps)
INPUT_SCALE = 1e-10  # a float64 error below this fraction of the inputs' magnitude is a precision matter
ULPS32 = 16  # a gradient computed in float32 matches the float32-rounded case's within this many float32 eps


def _nearer(act: np.ndarray, hypothesis: np.ndarray | None, reference: np.ndarray | None) -> bool:
    """Whether a lower-precision evaluation is nearer the measured result than the float64 reference: one that is
    further away (0 where the result keeps an epsilon the formula does not have) explains nothing. Where only
    non-finite elements differ, it explains them only if the reference there is beyond float32's range (an
    intermediate that overflows in float64 too, as log(1 + exp(x)) at x > 709, says nothing about float32)."""
    if hypothesis is None or reference is None or np.shape(hypothesis) != np.shape(act) or np.shape(reference) != np.shape(act):
        return False
    with np.errstate(all="ignore"):
        a, h, r = np.asarray(act, np.float64), np.asarray(hypothesis, np.float64), np.asarray(reference, np.float64)
        finite = np.isfinite(a) & np.isfinite(h) & np.isfinite(r)
        differ = finite & (a != r)
        if differ.any():
            return float(np.abs(a - h)[differ].max()) < float(np.abs(a - r)[differ].max())
        lost = ~np.isfinite(a) & np.isfinite(r)
        return bool(lost.any()) and bool((np.abs(r[lost]) > dtypes.max_value("float32")).all())
