"""The positional check: each binding called with its arguments by position, in the documented order of the same
call in the spec's first framework (the code a port starts from), against its own keyword call.

Where the two orders put another parameter at a written position, a difference is the porting trap the
signatures document (a torch call's third positional argument is not paddle's); where they agree, a difference
means the binding does not take its arguments in the order its documentation gives."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.cases.case import Case
from harness.checks.base import BindingCheck, TableRow
from harness.judge import pairs
from harness.judge.stability import describe
from harness.judge.verdicts import Verdict
from harness.run import forms

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner
    from harness.spec.model import BindingView

PER_FORM = 3  # cases per distinct written form (how many positions, and the first that means another parameter)
CASES = 12  # cases per binding, the forms that write the most positions first


class PositionalCheck(BindingCheck):
    name = "positional"
    order = 55
    column = 7
    table = TableRow(7, "positional call ported from the first framework")
    reproducer = "forms"

    def form(self, binding: BindingView, keyword: forms.Keyword) -> tuple[forms.Build, str] | None:
        source = forms.origin(binding)
        return None if source is None else (forms.positional_request(source, keyword), f"as a user of {source.target} writes it")

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        b = run.binding
        source, form = forms.origin(b), self.form(b, run.keyword)
        if source is None or form is None:
            return []
        verdicts = []
        build = form[0]
        for compared in pairs.compare_forms(run, _chosen(run, source, build), build):
            case, _, keyword, positional = compared
            where = forms.mismatch(b, source, case)
            request = build(b, case, 0) or {}
            given = request.get("init_args" if b.kind == "class" else "args") or []
            keywords = ", ".join(request.get("init" if b.kind == "class" else "kwargs") or {}) or "none"
            names = ", ".join(s.common or s.own for s in forms.used(b, source, case))
            message = (f"called as a user of {source.target} writes it, {len(given)} positions ({names}) and keywords "
                       f"({keywords}): "
                       f"{pairs.contrast(keyword, positional)}; the keyword call gives {describe(keyword)}"
                       + (f" ({where})" if where else ""))
            why = f"the documented signatures put another parameter there: {where}" if where else ""
            verdicts.append(pairs.form_verdict(b, "positional", compared, where, ("keywords", "positions"), message, why))
        return verdicts

    def table_text(self, api: dict[str, object], binding: dict[str, object]) -> str:
        return "in the first framework's order"

    def empty_note(self, run: TargetRunner) -> str | None:
        return "the spec's first framework has no binding of this kind to port from" if forms.origin(run.binding) is None else None


def _chosen(run: TargetRunner, source: BindingView, build: forms.Build) -> list[Case]:
    """Valid core cases whose positional call is another call, up to PER_FORM per written form, the forms that write
    the most positions first."""
    def form(case: Case) -> tuple[int, str] | None:
        positional = build(run.binding, case, 0)
        if positional is None or positional == run.keyword(run.binding, case, 0):
            return None  # not expressible, or nothing written by position that the keyword call does not pass the same way
        return len(forms.used(run.binding, source, case)), forms.mismatch(run.binding, source, case)

    return pairs.spread(pairs.valid_core(run), form, PER_FORM, CASES, order=lambda key: (-key[0], key[1]))  # type: ignore[index]


CHECK = PositionalCheck()
