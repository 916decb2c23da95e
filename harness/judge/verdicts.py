"""Verdicts: what one binding did with one case, judged against its peers and against its own docs.

Two axes, kept apart:
- peers: the common spec (formula, common raise rules) that code moved between frameworks relies on;
- docs: the binding's own documentation (its formula, raise rules, dtype list, known differences).
A discrepancy the binding's own docs predict is `documented`; the rest is what gates.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from harness.cases.case import Case, Outcome, describe_array, holds, jsonable
from harness.judge import compare
from harness.judge.peers import ARBITRATED, DTYPES, NONFINITE_FORMULA, NONFINITE_INPUT, NONFINITE_RESULT, OUTSIDE, RAISE, Result
from harness.judge.reference import Reference
from harness.spec import dtypes
from harness.spec import formula as formula_mod
from harness.spec.formula import Formula
from harness.spec.model import BindingView, Raise
from harness.spec.names import CheckName

VerdictName = Literal["match", "value", "dtype", "shape", "signature", "subgradient", "missing-error", "unexpected-error",
                      "wrong-error", "warning", "stale-error", "crash", "timeout", "memory", "nondeterministic"]
VERDICTS: tuple[str, ...] = get_args(VerdictName)
"""Every verdict, in order of precedence when findings that name the same discrepancy merge."""


@dataclass
class Verdict:
    binding: BindingView
    case: Case | None
    check: CheckName
    verdict: VerdictName  # vs peers when that differs, else vs own docs
    peer: VerdictName  # verdict against the common spec
    doc: VerdictName  # verdict against the binding's own documentation
    documented: bool = False
    source: str | None = None
    why: str = ""  # which documentation explains a documented discrepancy
    subject: str = ""  # what a case-less or checked-in verdict is about (a parameter, an example): part of its id
    message: str = ""
    expected: Any = None
    actual: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)
    silent: str = ""  # why no doc decides this discrepancy ("non-finite input", "overflow", "subgradient"): peers do
    peers: dict[str, Any] = field(default_factory=dict)  # framework -> its result on the same call, when peers arbitrated
    raw: Result | None = field(default=None, repr=False)  # what the call gave, for peer arbitration (silent verdicts only)
    finite_twin: Verdict | None = field(default=None, repr=False)  # the same discrepancy without the nan and inf (`region`)

    @property
    def is_match(self) -> bool:
        return self.verdict == "match"

    def expect_later(self, describe: Callable[[], Any]) -> None:
        """`expected` is `describe()`, worked out when first read: describing the reference of a call that raised
        would evaluate a formula nothing else needs, and only the verdicts that lead findings are ever shown."""
        self.__dict__["_expected"], self.__dict__["_later"] = None, describe


def _get_expected(v: Verdict) -> Any:
    later = v.__dict__.pop("_later", None)
    if later is not None:
        v.__dict__["_expected"] = later()
    return v.__dict__.get("_expected")


def _set_expected(v: Verdict, value: Any) -> None:
    v.__dict__.pop("_later", None)
    v.__dict__["_expected"] = value


Verdict.expected = property(_get_expected, _set_expected)


def matching_rules(rules: list[tuple[Raise, Any]], case: Case) -> list[Raise]:
    """Every raise rule whose condition holds: a case that breaks two rules may raise either error."""
    return [rule for rule, condition in rules if holds_once(condition, case)]


def holds_once(condition: Any, case: Case) -> bool:
    """`holds`, evaluated once per condition text and case (the bindings of a spec share their rules)."""
    key = ("holds", condition)
    found = case.memo.get(key)
    if found is None:
        found = case.memo[key] = shared("holds", condition, case, lambda: holds(condition, case))
    return found


_SHARED: dict[tuple[Any, ...], Any] = {}
SHARED_LIMIT = 1 << 16  # entries before the table starts over (a bound on memory, not a correctness matter)
_ABSENT = ("absent",)


def shared(kind: str, condition: Formula, case: Case, compute: Callable[[], Any]) -> Any:
    """`compute()`, shared by the cases that `condition` cannot tell apart: it reads their arrays only
    through dtype, shape or presence (formula.reads), and every other name it reads has the same value."""
    names, metadata_only = formula_mod.reads(condition)
    env = case.env()
    key: list[Any] = [kind, condition]
    for name in names:
        v = env.get(name, _ABSENT)
        if isinstance(v, np.ndarray):
            if name not in metadata_only:
                return compute()  # its elements matter: nothing to share
            key.append(("array", dtypes.name(v), v.shape))
        else:
            key.append(_ABSENT if v is _ABSENT else (type(v).__qualname__, repr(v)))
    found = _SHARED.get(tuple(key), _ABSENT)
    if found is _ABSENT:
        if len(_SHARED) >= SHARED_LIMIT:
            _SHARED.clear()
        found = _SHARED[tuple(key)] = compute()
    return found


def unsupported_dtypes(binding: BindingView, case: Case) -> list[str]:
    """Inputs whose dtype the binding's docs do not list."""
    out = []
    for name, allowed in binding.dtypes.items():
        a = case.arrays.get(name)
        if a is not None and dtypes.name(a) not in allowed:
            out.append(f"{name}={dtypes.name(a)}")
    return out


def error_matches(rule: Raise, outcome: Outcome) -> bool:
    err = outcome.error or {}
    if rule.error not in (err.get("mro") or [err.get("type")]):
        return False
    return not rule.match or re.search(rule.match, err.get("message", ""), re.S | re.I) is not None


def _against(rules: list[Raise], ref: Reference | None, outcome: Outcome,
             out_dtype: str) -> tuple[VerdictName, compare.Comparison | None]:
    if outcome.crash:
        return outcome.crash, None
    if rules:
        if outcome.ok:
            return "missing-error", None
        return ("match" if any(error_matches(r, outcome) for r in rules) else "wrong-error"), None
    if not outcome.ok:
        return "unexpected-error", None
    if ref is None or ref.value is None:
        return "match", None  # the reference cannot say (recorded as a note on the case)
    cmp = compare.compare(outcome.value, ref.value, out_dtype, lambda: ref.lowp, ref.accumulation,  # type: ignore[arg-type]
                          ref.scale)
    return cmp.verdict, cmp


def expected_dtype(binding: BindingView, case: Case) -> str | None:
    """The output dtype the docs promise: the spec's `output.dtype` rule, or a binding's own."""
    rule = binding.spec.output.get("dtype")
    if binding.model.output_dtype:
        return binding.model.output_dtype
    if rule is None:
        return None
    key = ("dtype", rule)
    if key not in case.memo:  # the same rule for every binding of the spec
        case.memo[key] = shared("dtype", rule, case, lambda: _output_dtype(rule, case))
    return case.memo[key]


def _output_dtype(rule: Formula, case: Case) -> str | None:
    try:
        return str(rule.evaluate(case.env()))
    except Exception:
        return None


@dataclass
class CaseContext:
    """One call of one case, with the rules and references that judge it (built once, read by the case checks)."""

    binding: BindingView
    case: Case
    outcome: Outcome
    common: Reference | None
    own: Reference | None
    common_rules: list[Raise] = field(default_factory=list)
    own_rules: list[Raise] = field(default_factory=list)
    accepting: Raise | None = None  # the binding documents that it accepts this case
    unsupported: list[str] = field(default_factory=list)  # inputs whose dtype the binding's docs do not list

    @classmethod
    def build(cls, binding: BindingView, case: Case, outcome: Outcome, common: Reference | None,
              own: Reference | None) -> CaseContext:
        common_rules = matching_rules(binding.spec.raises, case)
        own_rules = matching_rules(binding.raises, case)
        # a case breaking the binding's rule and another common one may raise for either
        own_rules = own_rules + [r for r in common_rules if r.when not in {o.when for o in own_rules}] if own_rules else common_rules
        accepting = own_rules[0] if own_rules and own_rules[0].error == "none" else None
        if accepting is not None:
            own_rules = []
            own = own or common
        return cls(binding, case, outcome, common, own, common_rules, own_rules, accepting, unsupported_dtypes(binding, case))

    @property
    def common_rule(self) -> Raise | None:
        return self.common_rules[0] if self.common_rules else None

    @property
    def own_rule(self) -> Raise | None:
        return self.own_rules[0] if self.own_rules else None

    @property
    def out_dtype(self) -> str:
        """The precision the result is judged at: its dtype's, or a float input's where that is coarser (float16
        inputs returned as float32 carry float16's rounding: MindSpore's huber_loss computes in float16 and widens)."""
        out = (self.outcome.dtype or "float64") if self.outcome.ok else "float64"
        if not dtypes.is_float(out):
            return out
        floats = [dtypes.name(a) for a in self.case.arrays.values() if a is not None and dtypes.is_float(dtypes.name(a))]
        return max([out, *floats], key=dtypes.eps)

    def against_peers(self) -> tuple[VerdictName, compare.Comparison | None]:
        """The verdict against the common spec (its raise rules, then its formula)."""
        return _against(self.common_rules, self.common, self.outcome, self.out_dtype)

    def against_docs(self, peer: VerdictName,
                     cmp: compare.Comparison | None) -> tuple[VerdictName, compare.Comparison | None]:
        """The verdict against the binding's own docs, given the peer verdict (reused where the docs add nothing)."""
        if self.own_rules is self.common_rules and self.own is None:  # the binding's docs add nothing for this case
            return peer, cmp
        doc, own_cmp = _against(self.own_rules, self.own or self.common, self.outcome, self.out_dtype)
        return doc, cmp or own_cmp


def two_axes(ctx: CaseContext, check: CheckName) -> Verdict:
    """The usual judgement of a case: against the peers, then against the binding's own docs."""
    peer, cmp = ctx.against_peers()
    doc, cmp = ctx.against_docs(peer, cmp)
    return verdict_of(ctx, check, peer, doc, cmp)


def verdict_of(ctx: CaseContext, check: CheckName, peer: VerdictName, doc: VerdictName, cmp: compare.Comparison | None) -> Verdict:
    """The verdict on both axes, with what was expected and shown when it is a discrepancy, and its documentation."""
    # a case the binding documents to accept is judged by what it returns: its docs, not the common raise rule
    by_peers = peer != "match" and not (ctx.accepting is not None and peer == "missing-error")
    v = Verdict(ctx.binding, ctx.case, check, peer if by_peers else doc, peer, doc)
    if check == "values" and peer == "match" and doc != "match":
        v.subject = OWN_DOCS  # what its peers compute, not what its own docs say: another claim than a peer mismatch
    if not v.is_match:  # only discrepancies are ever shown: describing every match cost a third of judging
        expected, v.actual, v.message = _show(ctx.common_rule if by_peers else ctx.own_rule,
                                              ctx.common if by_peers else (ctx.own or ctx.common), ctx.outcome)
        v.expect_later(expected)
        if cmp is not None:
            v.metrics = cmp.metrics()
            if cmp.mask is not None and cmp.mask.any() and cmp.mask.size <= 4096:
                v.metrics["differs_at"] = np.argwhere(cmp.mask).tolist()[:64]
    explain(v, ctx.own_rule or ctx.accepting, ctx.own, ctx.unsupported)
    if check == "values" and not v.documented:
        v.silent = silence(ctx, v.verdict, cmp, ctx.common if by_peers else (ctx.own or ctx.common))
    elif check == "raises" and not v.documented and v.verdict in ("missing-error", "wrong-error", "unexpected-error"):
        rules = ctx.common_rules if by_peers else ctx.own_rules
        v.silent = RAISE if not any(stated(r) for r in rules) else ""
    elif check == "raises" and not v.documented and v.verdict in ("value", "shape") and ctx.case.origin == "invalid":
        v.silent = OUTSIDE  # a probe no rule covers computed: the formula was written for the documented inputs
    v.raw = Result.of_outcome(ctx.outcome) if v.silent else None
    return v


OWN_DOCS = "its own docs"
"""The subject of a values verdict that matches the common spec but not the binding's own documentation: its own
finding, never merged with the binding's discrepancies from its peers in the same region."""

LESS_COMMON = ("float16", "bfloat16", "int32", "int16", "int8", "uint8")
"""The dtypes kernels most often lack: half precision on CPU, and narrow integers where an index is a long."""


def _undeclared_low_precision(ctx: CaseContext) -> bool:
    """An input in a less common dtype whose dtypes the binding's docs do not list: refusing it breaks no stated
    promise, so whether it should compute is for the peers (one that computes makes the refusal a finding)."""
    return any(a is not None and name not in ctx.binding.dtypes and dtypes.name(a) in LESS_COMMON
               for name, a in ctx.case.arrays.items())


def stated(rule: Raise) -> bool:
    """Whether a doc states what breaking the rule does: a quoted sentence naming an exception type. A rule
    written from a precondition alone ("same shape as the input", error: Exception) leaves it to the peers."""
    return bool(rule.quote) and rule.error != "Exception"


def silence(ctx: CaseContext, verdict: VerdictName, cmp: compare.Comparison | None, ref: Reference | None) -> str:
    """Why no doc decides this values discrepancy (empty: the formula on finite inputs does): the docs
    state a formula for numbers, not what nan and inf do, nor whether an intermediate may overflow."""
    if verdict not in ARBITRATED:
        return ""
    if verdict == "unexpected-error" and _undeclared_low_precision(ctx):
        return DTYPES
    if ctx.case.nonfinite:
        return NONFINITE_INPUT
    if cmp is None or cmp.mask is None or ref is None or ref.value is None or not ctx.outcome.ok or ctx.outcome.value is None:
        return ""
    expected = np.asarray(dtypes.to_float64(ref.value), dtype=np.float64)
    actual = np.asarray(dtypes.to_float64(ctx.outcome.value), dtype=np.float64)
    if expected.shape != cmp.mask.shape or actual.shape != cmp.mask.shape:
        return ""
    if not np.isfinite(expected[cmp.mask]).all():
        return NONFINITE_FORMULA
    if not np.isfinite(actual[cmp.mask]).all():
        return NONFINITE_RESULT
    return ""


def _show(rule: Raise | None, ref: Reference | None, outcome: Outcome) -> tuple[Callable[[], Any], Any, str]:
    """How to describe what was expected (worked out when first read: it may need the reference's value, see
    `Verdict.expect_later`), what the call gave, and its message."""
    def expected() -> Any:
        if rule is not None:
            return jsonable({"error": rule.error, "match": rule.match})
        if ref is not None and ref.value is not None:
            return jsonable({"value": describe_array(ref.value)})
        return jsonable({"note": ref.error if ref else None})
    if outcome.ok:
        actual: Any = {"value": describe_array(outcome.value), "dtype": outcome.dtype}
        message = ""
    else:
        err = outcome.error or {}
        actual = {"error": err.get("type"), "message": err.get("message", "")[:2000], "kind": outcome.crash}
        message = f"{err.get('type')}: {err.get('message', '')}"[:500]
    return expected, jsonable(actual), message


def explain(v: Verdict, own_rule: Raise | None, own: Reference | None, unsupported: list[str]) -> None:
    """Mark a discrepancy documented when the binding's own docs predict what it did.

    A known difference explains every check unless its `check` scopes it to one; one scoped to
    values also explains the gradients of the same cases (their derivative). The reason given
    quotes the documentation's sentence where the spec records it.
    """
    def _quoted(why: str, quote: str | None) -> str:
        return f'{why}: "{quote}"' if quote else why

    if v.is_match:
        return
    b = v.binding
    for diff, condition in b.differences:
        same_check = diff.check is None or diff.check == v.check or (diff.check, v.check) == ("values", "gradients")
        if same_check and (not diff.verdicts or v.verdict in diff.verdicts) and (
                condition is None or (v.case is not None and holds_once(condition, v.case))):
            v.documented, v.source, v.why = True, diff.source, _quoted(diff.what, diff.quote)
            return
    if v.doc == "match":
        v.documented = True
        if own_rule is not None and own_rule.error == "none":
            v.source = own_rule.source or b.docs
            v.why = _quoted(f"documented to accept the case when {own_rule.when}", own_rule.quote)
        elif own_rule is not None and v.peer != "match":
            v.source = own_rule.source or b.docs
            v.why = _quoted(f"documented to raise {own_rule.error} when {own_rule.when}", own_rule.quote)
        elif unsupported and v.check == "dtypes":
            v.source, v.why = b.docs, "its documentation does not list this dtype"
        elif own is not None:
            quote = b.model.formula_quote or b.spec.model.frameworks[b.framework].formula_quote
            v.source, v.why = b.docs, _quoted("follows the formula its own documentation gives", quote)
        else:
            v.source = b.docs


def explained_by_dtype(verdicts: list[Verdict]) -> list[Verdict]:
    """A wrong or unexpected error on an invalid probe that the binding also raises, with the same type, on valid
    cases of the same dtypes is that dtype's failure (a values finding), not the probe's: it is no second claim."""
    failing = {(_dtypes_of(v.case), _error_of(v)) for v in verdicts  # the core's and replays' only: the gate's
               if v.check == "values" and v.verdict == "unexpected-error" and v.case is not None  # findings must not
               and not v.case.explored}  # depend on what a seed's exploration happened to draw
    for v in verdicts:
        if (v.check == "raises" and v.verdict in ("wrong-error", "unexpected-error")
                and (_dtypes_of(v.case), _error_of(v)) in failing):
            v.verdict = v.peer = v.doc = "match"
    return verdicts


def _dtypes_of(case: Case | None) -> tuple[tuple[str, str], ...]:
    if case is None:
        return ()
    return tuple(sorted((name, dtypes.name(a)) for name, a in case.arrays.items() if a is not None))


def _error_of(v: Verdict) -> str:
    return str(v.actual.get("error")) if isinstance(v.actual, dict) else ""
