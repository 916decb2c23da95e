"""The options check: each framework-only parameter at its other documented values (`options:`, e.g. paddle's
is_huber=False), which is what a porting tool writes to get the common behaviour, judged against what the
framework's docs say it then computes: its own formula for that value, or (the docs say so, or say nothing more)
the common formula its peers compute.

The spec's own call leaves such a parameter at its default, so without this check its other values are never tried
(paddle's smooth_l1_loss with is_huber=False at delta=0 gives nan where torch's beta=0 gives the L1 loss)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.cases.case import Case, Outcome
from harness.checks import registry
from harness.checks.base import BindingCheck, TableRow
from harness.judge import pairs
from harness.judge.verdicts import CaseContext, Verdict, holds_once, two_axes
from harness.run import forms

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner
    from harness.spec.formula import Formula
    from harness.spec.model import OptionView

CASES = 60  # valid core cases per option value, spread over the variants and the parameters' values


class OptionsCheck(BindingCheck):
    name = "options"
    order = 58
    column = 11
    table = TableRow(11, "framework-only parameters at their other documented values")
    reproducer = "call"

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for option in run.binding.options:
            verdicts += self._judged(run, option)
        return verdicts

    def _judged(self, run: TargetRunner, option: OptionView) -> list[Verdict]:
        b = run.binding
        cases = _chosen(run, option)
        build = forms.option_request(run.keyword, option.param, option.model.value)
        out = []
        controls = run.call(cases)
        outs = run.call(cases, build=build)
        for case, control, outcome in zip(cases, controls, outs):
            if outcome is None or control is None or not _right(run, case, control):
                continue  # judged where the spec's own call is right: what differs then is the option's doing
            ref = run.spec_run.reference(case, formula=option.formula or b.spec.formula)
            ctx = CaseContext.build(b, case, outcome, ref, None)
            v = two_axes(ctx, "options")
            v.subject = option.label
            if not v.is_match:
                again_out = run.call([case], build=build)[0]
                if again_out is None or not pairs.same_outcome(outcome, again_out):
                    continue  # a result that changes when repeated says nothing of the option (the values check reports it)
                given = ", ".join(f"{b.name_of(k) or k}={x!r}" for k, x in case.params.items() if k not in case.omit)
                v.message = f"with {option.label}" + (f" ({given})" if given else "") + f", {_shown(v, option)} ({self.meaning(option)})"
            out.append(v)
        return out

    @staticmethod
    def meaning(option: OptionView) -> str:
        doc = f'documented: "{option.model.quote}"'
        return f"{doc}; reference: {'its own formula' if option.formula else 'the common formula'}"

    def reference_formula(self, v: Verdict) -> Formula | None:
        """The formula a reproducer compares the call with: the option's own, or the common one."""
        option = option_of(v)
        return None if option is None else (option.formula or v.binding.spec.formula)

    def call_build(self, v: Verdict, keyword: forms.Keyword) -> forms.Build | None:
        option = option_of(v)
        return None if option is None else forms.option_request(keyword, option.param, option.model.value)

    def table_text(self, api: dict[str, object], binding: dict[str, object]) -> str:
        return "tried"

    def empty_note(self, run: TargetRunner) -> str | None:
        return None if run.binding.options else "the spec records no other documented value of a framework-only parameter"


def _right(run: TargetRunner, case: Case, control: Outcome) -> bool:
    """Whether the spec's own call of `case` gives what its own docs say (the values check's judgement on the docs
    axis: a parameter it stores in float32 would show in the option's call as well)."""
    b = run.binding
    ctx = CaseContext.build(b, case, control, run.spec_run.reference(case), run.spec_run.reference(case, b))
    return all(v.doc == "match" for v in registry.owner(ctx).judge(ctx))


def option_of(v: Verdict) -> OptionView | None:
    return next((o for o in v.binding.options if o.label == v.subject), None)


def _chosen(run: TargetRunner, option: OptionView) -> list[Case]:
    """Valid core cases on finite input where the option applies, spread over variants and parameter values."""
    def form(case: Case) -> str | None:
        if case.nonfinite or (option.when is not None and not holds_once(option.when, case)):
            return None
        return case.setting

    return pairs.spread(pairs.valid_core(run), form, 2, CASES)


def _shown(v: Verdict, option: OptionView) -> str:
    """What the call did against what the option's reference says."""
    what = "its own documented formula" if option.formula else "the common formula"
    if v.verdict in ("value", "shape"):
        got, want = (v.actual or {}).get("value") or {}, (v.expected or {}).get("value") or {}
        return f"gives {_values(got)} where {what} gives {_values(want)}" + (
            f" ({v.metrics.get('mismatched')} of {v.metrics.get('total')} elements differ)" if v.metrics.get("total") else "")
    return f"{v.verdict}: {v.message or v.actual}"


def _values(described: dict[str, object]) -> str:
    values = described.get("values")
    if isinstance(values, list):
        shown = ", ".join(f"{x:.7g}" if isinstance(x, float) else str(x) for x in values[:4]) + (", ..." if len(values) > 4 else "")
        return f"[{shown}] (shape {described.get('shape')})"
    if isinstance(values, float):
        return f"{values:.7g}"
    return str(values if values is not None else described)


CHECK = OptionsCheck()
