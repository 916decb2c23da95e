"""Verdicts: what one binding did with one case, judged against its peers and against its own docs.

Two axes, kept apart:
- peers: the common spec (formula, common raise rules) that code moved between frameworks relies on;
- docs: the binding's own documentation (its formula, raise rules, dtype list, known differences).
A discrepancy the binding's own docs predict is `documented`; the rest is what gates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from harness.judge import compare
from harness.spec import dtypes
from harness.cases.case import Case, Outcome, describe_array, jsonable
from harness.judge.reference import Reference, holds
from harness.spec.model import BindingView, Raise

VERDICTS = ("match", "value", "dtype", "shape", "signature", "subgradient", "missing-error", "unexpected-error", "wrong-error",
            "crash", "timeout", "memory", "nondeterministic")


@dataclass
class Verdict:
    binding: BindingView
    case: Optional[Case]
    check: str
    verdict: str  # vs peers when that differs, else vs own docs
    peer: str  # verdict against the common spec
    doc: str  # verdict against the binding's own documentation
    documented: bool = False
    source: Optional[str] = None
    why: str = ""  # which documentation explains a documented discrepancy
    subject: str = ""  # what a case-less or checked-in verdict is about (a parameter, an example): part of its id
    message: str = ""
    expected: Any = None
    actual: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def is_match(self) -> bool:
        return self.verdict == "match"


def matching_rules(rules: list[tuple[Raise, Any]], case: Case) -> list[Raise]:
    """Every raise rule whose condition holds: a case that breaks two rules may raise either error."""
    return [rule for rule, condition in rules if holds(condition, case)]


def unsupported_dtypes(binding: BindingView, case: Case) -> list[str]:
    """Inputs whose dtype the binding's docs do not list."""
    out = []
    for name, allowed in binding.dtypes.items():
        a = case.arrays.get(name)
        if a is not None and dtypes.name(a) not in allowed:
            out.append(f"{name}={dtypes.name(a)}")
    return out


def _error_matches(rule: Raise, outcome: Outcome) -> bool:
    err = outcome.error or {}
    if rule.error not in (err.get("mro") or [err.get("type")]):
        return False
    return not rule.match or re.search(rule.match, err.get("message", ""), re.S | re.I) is not None


def _against(rules: list[Raise], ref: Optional[Reference], outcome: Outcome, out_dtype: str) -> tuple[str, Optional[compare.Comparison]]:
    if outcome.crash:
        return outcome.crash, None
    if rules:
        if outcome.ok:
            return "missing-error", None
        return ("match" if any(_error_matches(r, outcome) for r in rules) else "wrong-error"), None
    if not outcome.ok:
        return "unexpected-error", None
    if ref is None or ref.value is None:
        return "match", None  # the reference cannot say (recorded as a note on the case)
    cmp = compare.compare(outcome.value, ref.value, out_dtype, ref.lowp, ref.accumulation, ref.scale)  # type: ignore[arg-type]
    return cmp.verdict, cmp


def expected_dtype(binding: BindingView, case: Case) -> Optional[str]:
    """The output dtype the docs promise: the spec's `output.dtype` rule, or a binding's own."""
    rule = binding.spec.output.get("dtype")
    if binding.model.output_dtype:
        return binding.model.output_dtype
    if rule is None:
        return None
    try:
        return str(rule.evaluate(case.env()))
    except Exception:
        return None


def judge(binding: BindingView, case: Case, outcome: Outcome, common: Reference, own: Optional[Reference]) -> list[Verdict]:
    """The verdicts of one call: one for its main check, and an output-dtype one when it returned."""
    spec = binding.spec
    common_rules = matching_rules(spec.raises, case)
    own_rules = matching_rules(binding.raises, case)
    # a case breaking the binding's rule and another common one may raise for either
    own_rules = own_rules + [r for r in common_rules if r.when not in {o.when for o in own_rules}] if own_rules else common_rules
    accepting = own_rules[0] if own_rules and own_rules[0].error == "none" else None
    if accepting is not None:  # the binding documents that it accepts this case
        own_rules = []
        own = own or common
    common_rule = common_rules[0] if common_rules else None
    own_rule = own_rules[0] if own_rules else None
    unsupported = unsupported_dtypes(binding, case)
    if unsupported:
        check = "dtypes"
    elif case.origin == "invalid" or common_rule or own_rule:
        check = "raises"
    else:
        check = "values"
    out_dtype = (outcome.dtype or "float64") if outcome.ok else "float64"
    peer, cmp = _against(common_rules, common, outcome, out_dtype)
    if check == "dtypes" and not outcome.ok and not outcome.crash:
        # the docs do not list this dtype: rejecting it is what they say, with any error type,
        # unless a documented dtype rule names the type
        dtype_rules = [r for r in own_rules if "dtype(" in r.when]
        doc = "match" if not dtype_rules or any(_error_matches(r, outcome) for r in own_rules) else "wrong-error"
        peer = "match" if common_rules else peer
    elif own_rules is common_rules and own is None:  # the binding's docs add nothing for this case
        doc = peer
    else:
        doc, own_cmp = _against(own_rules, own or common, outcome, out_dtype)
        cmp = cmp or own_cmp
    verdict = peer if peer != "match" else doc
    v = Verdict(binding, case, check, verdict, peer, doc)
    if not v.is_match:  # only discrepancies are ever shown: describing every match cost a third of judging
        v.expected, v.actual, v.message = _show(common_rule if peer != "match" else own_rule, common if peer != "match" else (own or common), outcome)
        if cmp is not None:
            v.metrics = cmp.metrics()
            if cmp.mask is not None and cmp.mask.any() and cmp.mask.size <= 4096:
                v.metrics["differs_at"] = np.argwhere(cmp.mask).tolist()[:64]
    explain(v, own_rule or accepting, own, unsupported)
    out = [v]
    want = expected_dtype(binding, case)
    if outcome.ok and check == "values" and want and outcome.dtype != want:
        d = Verdict(binding, case, "dtypes", "dtype", "dtype", "dtype", expected={"dtype": want},
                    actual={"dtype": outcome.dtype}, message=f"output dtype {outcome.dtype}, documented {want}")
        explain(d, None, None, [])
        out.append(d)
    return out


def _show(rule: Optional[Raise], ref: Optional[Reference], outcome: Outcome) -> tuple[Any, Any, str]:
    if rule is not None:
        expected: Any = {"error": rule.error, "match": rule.match}
    elif ref is not None and ref.value is not None:
        expected = {"value": describe_array(ref.value)}
    else:
        expected = {"note": ref.error if ref else None}
    if outcome.ok:
        actual: Any = {"value": describe_array(outcome.value), "dtype": outcome.dtype}
        message = ""
    else:
        err = outcome.error or {}
        actual = {"error": err.get("type"), "message": err.get("message", "")[:2000], "kind": outcome.crash}
        message = f"{err.get('type')}: {err.get('message', '')}"[:500]
    return jsonable(expected), jsonable(actual), message


def explain(v: Verdict, own_rule: Optional[Raise], own: Optional[Reference], unsupported: list[str]) -> None:
    """Mark a discrepancy documented when the binding's own docs predict what it did."""
    if v.is_match:
        return
    b = v.binding
    for diff, condition in b.differences:
        # a documented difference in values also explains the gradient of the same cases (its derivative)
        if (diff.check == v.check or (diff.check, v.check) == ("values", "gradients")) and (not diff.verdicts or v.verdict in diff.verdicts) and (condition is None or (v.case is not None and holds(condition, v.case))):
            v.documented, v.source, v.why = True, diff.source, diff.what
            return
    if v.doc == "match":
        v.documented = True
        if own_rule is not None and own_rule.error == "none":
            v.source, v.why = own_rule.source or b.docs, f"documented to accept the case when {own_rule.when}"
        elif own_rule is not None and v.peer != "match":
            v.source, v.why = own_rule.source or b.docs, f"documented to raise {own_rule.error} when {own_rule.when}"
        elif unsupported and v.check == "dtypes":
            v.source, v.why = b.docs, "its documentation does not list this dtype"
        elif own is not None:
            v.source, v.why = b.docs, "follows the formula its own documentation gives"
        else:
            v.source = b.docs


def signature_verdict(binding: BindingView, actual: dict[str, Any]) -> Verdict:
    """Names, order and defaults of the documented signature against the introspected one."""
    from harness.spec.model import parse_signature

    problems = _signature_diff(parse_signature(binding.model.signature), actual.get("params") or [], "")
    if binding.model.call and actual.get("call") is not None:
        problems += _signature_diff(parse_signature(binding.model.call), actual["call"], "call ")
    verdict = "signature" if problems else "match"
    v = Verdict(binding, None, "signature", verdict, "match", verdict, message="; ".join(problems),
                expected={"signature": binding.model.signature, "call": binding.model.call},
                actual={"params": actual.get("params"), "call": actual.get("call")})
    explain(v, None, None, [])
    return v


def _signature_diff(documented: list[tuple[str, Any, bool]], actual: list[list[Any]], prefix: str) -> list[str]:
    problems = []
    doc_names = [d[0] for d in documented]
    act_names = [a[0] for a in actual]
    missing = [n for n in doc_names if n not in act_names]
    extra = [n for n in act_names if n not in doc_names]
    if missing:
        problems.append(f"{prefix}documented but absent: {', '.join(missing)}")
    if extra:
        problems.append(f"{prefix}present but undocumented: {', '.join(extra)}")
    common = [n for n in doc_names if n in act_names]
    if common != [n for n in act_names if n in doc_names]:
        problems.append(f"{prefix}order differs: documented ({', '.join(common)}), actual ({', '.join(n for n in act_names if n in doc_names)})")
    act = {a[0]: a for a in actual}
    for name, default, has in documented:
        if name in act and (has != act[name][2] or (has and default != act[name][1])):
            shown = repr(act[name][1]) if act[name][2] else "required"
            doc_shown = repr(default) if has else "required"
            problems.append(f"{prefix}default of {name}: documented {doc_shown}, actual {shown}")
    return problems
