"""The gradients check: each binding's autodiff gradient against the formula's reference gradient.

What is differentiated: sum(output) of the call as the case makes it (its reduction; 'none' is
summed), with respect to every differentiable input: a float input whose values are not class
indices or probabilities, unless the spec says `grad: true/false` on the input, or a binding lists
the inputs it supports with `grad: [...]`. Value kinds in CONTINUOUS are differentiable; labels
(index, probabilities, sign, binary, lengths, ...) are not. Gradient cases are the spec's generated valid cases
with at most GRAD_ELEMENTS elements per differentiable input (the first GRAD_CASES of them), and
only those the binding documents (dtypes, raise rules) and ran without error in the values check.

Verdicts, one per (case, input), on both axes like values:
- smooth elements: compared with the reference gradient (`gradref`) under the tolerance policy of
  `compare`, with the gradient's own scale as the scale term; nan and inf must match like values.
- kinks (left and right derivatives differ): peers are compared with the spec's common
  `gradients.subgradients` choice, or, when it names none, with any value between the one-sided
  derivatives; the binding's docs with its own `subgradients` entry. Where no entry with a source
  covers a kink the verdict is `subgradient`: the value it gives is shown, and no doc states it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.cases.case import Case, describe_array, jsonable
from harness.cases.generate import array_specs
from harness.checks.base import BindingCheck, TableRow
from harness.judge import compare
from harness.judge.gradref import GradientReference, InputGradient, derive
from harness.judge.peers import ARBITRATED, GRADIENT, NONFINITE_INPUT, SUBGRADIENT, Result
from harness.judge.verdicts import Verdict, VerdictName, explain, matching_rules, unsupported_dtypes
from harness.run import wire
from harness.spec import dtypes
from harness.spec.formula import Formula
from harness.spec.model import BindingView, Spec, Subgradient

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner

CONTINUOUS = ("real", "positive", "unit", "log_probabilities")  # value kinds that are not labels
TERMS_FACTOR = 4.0  # rounding allowed relative to the magnitude of the derivative's terms (like SCALE_FACTOR)
GRAD_ELEMENTS = 64  # per differentiable input: keeps the reference and the framework calls cheap
GRAD_CASES = 24  # per spec
NONFINITE_CASES = 6  # of which at least this many (when drawn) hold nan or inf


def differentiable(spec: Spec, case: Case, binding: BindingView | None = None) -> list[str]:
    """The inputs of `case` whose gradient is checked (the spec's rule, narrowed by the binding's `grad`)."""
    forms = array_specs(spec, case.variant)
    out = []
    for name in spec.model.inputs:
        a, arr = forms.get(name), case.arrays.get(name)
        if a is None or arr is None or not dtypes.is_float(dtypes.name(arr)):
            continue
        if a.grad if a.grad is not None else a.values in CONTINUOUS:
            out.append(name)
    if binding is not None and binding.grad is not None:
        out = [n for n in out if n in binding.grad]
    return out


def why_none(spec: Spec) -> str | None:
    """Why a spec has no gradient check at all, or None."""
    if spec.model.gradients.skip:
        return f"the spec skips gradients: {spec.model.gradients.skip}"
    variants: list[str | None] = [*sorted(spec.model.variants)] or [None]
    forms = [array_specs(spec, v) for v in variants]
    if not any(a.grad or (a.grad is None and a.values in CONTINUOUS and
                          (not isinstance(a.dtypes, list) or any(dtypes.is_float(d) for d in a.dtypes)))
               for f in forms for n, a in f.items() if n in spec.model.inputs):
        return "no differentiable input (every input is integer or a label: index, sign, binary, probabilities, lengths)"
    return None


def _pick(cases: list[Case], room: int, nonfinite: int) -> list[Case]:
    """The first `room` cases, with up to `nonfinite` of them holding nan/inf: propagation is checked too."""
    special = [c for c in cases if c.nonfinite][:min(nonfinite, room)]
    return special + [c for c in cases if not c.nonfinite][:max(0, room - len(special))]


def _select(eligible: list[Case]) -> list[Case]:
    """GRAD_CASES cases, up to NONFINITE_CASES of them with nan/inf. The core cases are chosen first and on
    their own, and explored ones only fill what room is left: which core cases get a gradient check must not
    depend on the seed (the gate decides on core cases)."""
    core = _pick([c for c in eligible if not c.explored], GRAD_CASES, NONFINITE_CASES)
    special = sum(1 for c in core if c.nonfinite)
    explored = _pick([c for c in eligible if c.explored], GRAD_CASES - len(core), max(0, NONFINITE_CASES - special))
    chosen = {id(c) for c in core + explored}
    return [c for c in eligible if id(c) in chosen]


class GradientCheck:
    """One spec's gradient cases and their reference gradients (shared by every binding)."""

    def __init__(self, spec: Spec, cases: list[Case]) -> None:
        self.spec = spec
        self.reason = why_none(spec)
        self.cases = [] if self.reason else _select([c for c in cases if self.eligible(c)])
        if not self.reason and not self.cases:
            self.reason = f"no generated valid case has at most {GRAD_ELEMENTS} elements per differentiable input"
        self._refs: dict[tuple[str, str], GradientReference] = {}
        self.failures: dict[str, int] = {}  # reference errors seen, by message

    def empty_reason(self) -> str:
        """Why a binding got no gradient verdicts."""
        if self.reason:
            return self.reason
        if self.failures:
            message, n = max(self.failures.items(), key=lambda kv: kv[1])
            return f"the reference gradient failed on {n} case(s): {message}"
        return "no gradient case is in this binding's documented domain"

    def eligible(self, case: Case) -> bool:
        if self.spec.model.gradients.skip:  # replayed regression cases too, not only the generated ones
            return False
        names = differentiable(self.spec, case)
        return ((case.origin == "generated" or bool(case.regression)) and bool(names) and not matching_rules(self.spec.raises, case)
                and all(case.arrays[n].size <= GRAD_ELEMENTS for n in names))  # type: ignore[union-attr]

    def reference(self, case: Case, formula: Formula, key: str) -> GradientReference:
        k = (case.fingerprint(), key)
        if k not in self._refs:
            self._refs[k] = derive(formula, case, differentiable(self.spec, case))
        return self._refs[k]

    def summary(self) -> dict[str, Any]:
        """For the coverage report: how many gradient cases, with nan/inf, and kinks the reference found."""
        if self.reason:
            return {"cases": 0, "skipped": self.reason}
        kinks: dict[str, int] = {}
        for case in self.cases:
            ref = self.reference(case, self.spec.formula, "")
            if ref.error:
                kinks.setdefault("(reference failed)", 0)
                kinks["(reference failed)"] += 1
            for name, g in ref.inputs.items():
                kinks[name] = kinks.get(name, 0) + int(g.kinks.sum())
        methods = sorted({self.reference(c, self.spec.formula, "").method for c in self.cases})
        return {"cases": len(self.cases), "nonfinite": sum(1 for c in self.cases if c.nonfinite), "kinks": kinks,
                "method": "; ".join(methods)}

    def applicable(self, binding: BindingView, case: Case) -> bool:
        return (bool(differentiable(self.spec, case, binding)) and not unsupported_dtypes(binding, case)
                and not any(r.error != "none" for r in matching_rules(binding.raises, case)))

    def verdicts(self, binding: BindingView, cases: list[Case],
                 send: Callable[[list[tuple[Case, list[str]]]], list[dict[str, Any] | None]]) -> list[Verdict]:
        """Gradient verdicts of `binding` for `cases`; `send` runs (case, wrt) pairs in the framework."""
        todo = []
        for case in cases:
            if not self.applicable(binding, case):
                continue
            common = self.reference(case, self.spec.formula, "")
            if common.error:
                self.failures[common.error] = self.failures.get(common.error, 0) + 1
                continue
            todo.append((case, differentiable(self.spec, case, binding)))
        out: list[Verdict] = []
        for (case, names), reply in zip(todo, send(todo)):
            if reply is None:
                continue
            common = self.reference(case, self.spec.formula, "")
            own = self.reference(case, binding.formula, binding.target) if binding.formula else None
            if own is not None and own.error:
                own = None
            out.extend(judge_reply(binding, case, names, reply, common, own))
        return out


class GradientsCheck(BindingCheck):
    """Gradients of the cases the binding returned a value for, plus the eligible replayed regression cases."""

    name = "gradients"
    order = 40  # after the case checks: it differentiates only the calls that returned
    column = 6
    partition = ("variant", "values")
    probed = True
    no_script = "gradient findings get no script yet: the minimal case above, with the gradient expected and given, is the reproduction"
    table = TableRow(6, "gradients")

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        grads = run.spec_run.gradients
        cases = [c for c in grads.cases + [r for r in run.replayed if grads.eligible(r)] if c.fingerprint() in run.returned]
        return self.judge(run, cases)

    def judge(self, run: TargetRunner, cases: list[Case]) -> list[Verdict]:
        return run.spec_run.gradients.verdicts(run.binding, cases, lambda pairs: _send(run, pairs))

    def empty_note(self, run: TargetRunner) -> str | None:
        return run.spec_run.gradients.empty_reason()

    def peer_call(self, v: Verdict, inputs: list[str]) -> dict[str, Any] | None:
        names = str(v.metrics.get("wrt", "")).split(",")
        if not all(n in inputs for n in names):
            return None
        return {"op": "grad", "wrt": [inputs.index(n) for n in names]}

    def no_opinion(self, v: Verdict, result: Result) -> bool:
        """A gradient that is 0 everywhere where the formula's is not is no derivative: the peer does not
        differentiate that input (MindSpore's kl_div target), and its zeros say nothing of what it should be."""
        if result.kind != "value" or result.value is None:
            return False
        expected = (v.expected or {}).get("gradient") if isinstance(v.expected, dict) else None
        values = np.asarray(result.value, np.float64)
        if not isinstance(expected, dict) or "values" not in expected or not values.size or (values != 0).any():
            return False
        ref = np.asarray(np.asarray(expected["values"], dtype=object).astype(np.float64))
        return bool((np.isfinite(ref) & (ref != 0)).any())

    def prober(self, run: TargetRunner) -> Callable[[list[Case]], list[Verdict]] | None:
        grads = run.spec_run.gradients
        return lambda cases: self.judge(run, [c for c in cases if grads.eligible(c)])


def _send(run: TargetRunner, pairs: list[tuple[Case, list[str]]]) -> list[dict[str, Any] | None]:
    """Each (case, inputs) as a `grad` request: the call, and which inputs to differentiate."""
    inputs = list(run.spec_run.spec.model.inputs)
    return run.send([(case, {"op": "grad", "wrt": [inputs.index(n) for n in names]}) for case, names in pairs])


CHECK = GradientsCheck()


def judge_reply(binding: BindingView, case: Case, names: list[str], reply: dict[str, Any],
                common: GradientReference, own: GradientReference | None) -> list[Verdict]:
    if reply.get("crash") or reply.get("error"):
        err = reply.get("error") or {}
        verdict: VerdictName = reply.get("crash") or "unexpected-error"
        v = Verdict(binding, case, "gradients", verdict, verdict, verdict, message=f"{err.get('type')}: {err.get('message', '')}"[:500],
                    expected={"gradients": names}, actual={"error": err.get("type"), "message": err.get("message", "")[:2000]})
        v.metrics, v.subject = {"wrt": ",".join(names)}, ",".join(names)
        explain(v, None, None, [])
        if verdict == "unexpected-error":
            _silence(v, Result("error", error=str(err.get("type"))))
        return [v]
    out = []
    for name, enc in zip(names, reply.get("grads") or []):
        peer, doc = common.inputs[name], (own.inputs.get(name) if own else None)
        actual = _decode(enc)
        gdtype = enc["dtype"] if enc else "float64"
        out.append(_silence(_smooth(binding, case, name, actual, gdtype, peer, doc), Result.of_array(actual, gdtype)))
        if actual is not None and actual.shape == peer.value.shape and (peer.kinks.any() or (doc is not None and doc.kinks.any())):
            out.append(_silence(_kinks(binding, case, name, actual, gdtype, peer, doc or peer, own is not None),
                                Result.of_array(actual, gdtype)))
    return out


def _silence(v: Verdict, raw: Result) -> Verdict:
    """No framework documents its gradients: a gradient discrepancy that no doc explains is for the peers
    to decide (the same input differentiated in each other framework's binding)."""
    if not v.is_match and not v.documented and v.verdict in ARBITRATED:
        v.silent = (SUBGRADIENT if v.subject.endswith(" at kinks") else
                    NONFINITE_INPUT if v.case is not None and v.case.nonfinite else GRADIENT)
        v.raw = raw
    return v


def _decode(enc: dict[str, Any] | None) -> np.ndarray | None:
    return None if enc is None else np.asarray(wire.decode_array(enc), dtype=np.float64)


def _verdict(binding: BindingView, case: Case, name: str, peer: VerdictName, doc: VerdictName, expected: np.ndarray,
             actual: np.ndarray | None, gdtype: str, cmp: compare.Comparison | None, message: str = "") -> Verdict:
    verdict = peer if peer != "match" else doc
    v = Verdict(binding, case, "gradients", verdict, peer, doc, message=message, subject=name,
                expected={"wrt": name, "gradient": describe_array(expected)},
                actual={"wrt": name, "gradient": describe_array(actual), "dtype": gdtype})
    v.metrics = {"wrt": name}
    if cmp is not None:
        v.metrics.update(cmp.metrics())
        if cmp.mask is not None and cmp.mask.any():
            v.metrics["differs_at"] = np.argwhere(cmp.mask).tolist()[:64]
    v.expected, v.actual = jsonable(v.expected), jsonable(v.actual)
    return v


def _against(actual: np.ndarray, ref: InputGradient, gdtype: str) -> compare.Comparison:
    """Smooth elements of `ref` compared (kinks and unjudged elements are left to `_kinks`)."""
    with np.errstate(all="ignore"):
        # within the reference's own error (central differences) or the rounding of the derivative's
        # terms (another order or algebraic form of the same sum) is as good as equal
        allowed = ref.slack + (TERMS_FACTOR * dtypes.eps(gdtype) * ref.terms if ref.terms is not None else 0)
        skip = ref.kinks | ref.unjudged | (np.abs(actual - ref.value) <= allowed)
    expected = np.where(skip, actual, ref.value)
    lowp = None if ref.lowp is None else np.where(skip, actual, ref.lowp)
    return compare.compare(actual, expected, gdtype, lowp, ref.accumulation, ref.scale)


def _smooth(binding: BindingView, case: Case, name: str, actual: np.ndarray | None, gdtype: str,
            peer_ref: InputGradient, doc_ref: InputGradient | None) -> Verdict:
    if actual is None:
        v = _verdict(binding, case, name, "value", "value", peer_ref.value, None, gdtype, None,
                     f"no gradient for {name}: the output does not depend on it in the framework's autodiff")
    elif actual.shape != peer_ref.value.shape:
        v = _verdict(binding, case, name, "shape", "shape", peer_ref.value, actual, gdtype, None,
                     f"gradient of {name} has shape {list(actual.shape)}, the input {list(peer_ref.value.shape)}")
    else:
        cmp = _against(actual, peer_ref, gdtype)
        doc_cmp = _against(actual, doc_ref, gdtype) if doc_ref is not None else cmp
        shown = cmp if cmp.verdict != "match" else doc_cmp
        msg = "" if shown.verdict == "match" else f"gradient of {name} differs at {shown.mismatched} of {shown.total} elements"
        v = _verdict(binding, case, name, cmp.verdict, doc_cmp.verdict,
                     (doc_ref if cmp.verdict == "match" and doc_ref is not None else peer_ref).value, actual, gdtype, shown, msg)
    explain(v, None, doc_ref, [])  # type: ignore[arg-type]
    return v


def _entry(entries: list[tuple[Subgradient, Formula | None]], case: Case, name: str,
           shape: tuple[int, ...]) -> list[tuple[Subgradient, np.ndarray]]:
    """Subgradient entries that apply to input `name`, each with the elements its `at` selects."""
    out = []
    for sg, at in entries:
        if sg.inputs and name not in sg.inputs:
            continue
        if at is None:
            out.append((sg, np.ones(shape, bool)))
            continue
        try:
            mask = np.broadcast_to(np.asarray(at.evaluate(case.env()), dtype=bool), shape)
        except Exception:
            continue
        out.append((sg, mask))
    return out


def _choose(entries: list[tuple[Subgradient, np.ndarray]], shape: tuple[int, ...]) -> tuple[np.ndarray, list[Subgradient | None]]:
    """Per element, the index of the first entry covering it (-1: none)."""
    which = np.full(shape, -1)
    for i, (_, mask) in reversed(list(enumerate(entries))):
        which = np.where(mask, i, which)
    return which, [sg for sg, _ in entries]


def _close(actual: np.ndarray, expected: np.ndarray, ref: InputGradient, gdtype: str) -> np.ndarray:
    cmp = compare.compare(actual, expected, gdtype, None, ref.accumulation, ref.scale)
    with np.errstate(all="ignore"):
        near = np.abs(actual - expected) <= ref.slack
    return ~cmp.mask | near if cmp.mask is not None else np.ones(actual.shape, bool)


def _named(actual: float, ref: InputGradient, idx: tuple[int, ...]) -> str:
    """Which subgradient a value is, for the message."""
    lo, hi = ref.left[idx], ref.right[idx]
    for label in ("left", "right", "min_norm", "mean", "zero"):
        v = float(ref.side(label)[idx])
        if np.isclose(actual, v, rtol=1e-3, atol=1e-6 * max(abs(lo), abs(hi), 1e-300)):
            return f"{label} ({actual:.6g})"
    return f"{actual:.6g}, none of left {lo:.6g} / right {hi:.6g}"


def _kinks(binding: BindingView, case: Case, name: str, actual: np.ndarray, gdtype: str,
           peer_ref: InputGradient, doc_ref: InputGradient, own_formula: bool) -> Verdict:
    shape = actual.shape
    # peers: the spec's common choice where it states one, else anything between the two sides
    common_entries = _entry(binding.spec.subgradients, case, name, shape)
    which, entries = _choose(common_entries, shape)
    with np.errstate(all="ignore"):
        lo, hi = np.minimum(peer_ref.left, peer_ref.right), np.maximum(peer_ref.left, peer_ref.right)
        expected = np.clip(actual, lo, hi)
    for i, sg in enumerate(entries):
        expected = np.where(which == i, peer_ref.side(sg.side), expected)  # type: ignore[union-attr]
    peer_ok = np.where(peer_ref.kinks, _close(actual, expected, peer_ref, gdtype), True)
    # own docs: the binding's entries; a kink with no sourced entry is undocumented
    own_entries = _entry(binding.subgradients, case, name, shape)
    own_which, own_list = _choose(own_entries, shape)
    doc_expected = np.full(shape, np.nan)
    for i, sg in enumerate(own_list):
        doc_expected = np.where(own_which == i, doc_ref.side(sg.side), doc_expected)  # type: ignore[union-attr]
    stated = doc_ref.kinks & (own_which >= 0)
    doc_ok = np.where(stated, _close(actual, doc_expected, doc_ref, gdtype), True)
    sourced = np.zeros(shape, bool)
    for i, sg in enumerate(own_list):
        sourced |= (own_which == i) & bool(sg and sg.source)
    silent = doc_ref.kinks & ~sourced
    peer: VerdictName = "match" if peer_ok.all() else "value"
    # a valid subgradient (between the one-sided derivatives, or the spec's stated choice) where no doc of the binding
    # states one is no claim against it: any is correct; which one each framework picks is not a finding
    doc: VerdictName = "value" if not doc_ok.all() else ("subgradient" if silent.any() and peer != "match" else "match")
    kinks = peer_ref.kinks | doc_ref.kinks
    idx = [tuple(int(j) for j in i) for i in np.argwhere(kinks)]
    said = "; ".join(f"{list(i)}: {_named(float(actual[i]), peer_ref if peer_ref.kinks[i] else doc_ref, i)}" for i in idx[:8])
    msg = f"at {len(idx)} kink(s) of {name} (left and right derivatives differ) it gives {said}"
    if doc == "subgradient":
        msg += "; no documentation states this subgradient"
    v = _verdict(binding, case, name, peer, doc, peer_ref.value, actual, gdtype, None, msg)
    v.subject = f"{name} at kinks"  # a separate cause from the smooth elements of the same input
    at = tuple(np.argwhere(kinks)[:64].T)
    v.expected = jsonable({"wrt": name, "kinks": [list(i) for i in idx[:64]], "left": peer_ref.left[at], "right": peer_ref.right[at],
                           "common": expected[at], "documented": doc_expected[at]})
    v.actual = jsonable({"wrt": name, "kinks": [list(i) for i in idx[:64]], "gradient": actual[at], "dtype": gdtype})
    v.metrics.update({"kinks": len(idx), "differs_at": [list(i) for i in np.argwhere(kinks & ~(peer_ok & doc_ok))][:64]})
    explain(v, None, None, [])
    used = [sg for i, sg in enumerate(own_list) if sg and sg.source and (stated & (own_which == i)).any()]
    if v.documented and not v.why and used:
        v.source, v.why = used[0].source, f"documents the {used[0].side} derivative at this kink"
    return v
