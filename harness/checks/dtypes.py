"""The dtypes check: inputs of a dtype the binding's docs do not list, and the documented output dtype.

Rejecting an undocumented dtype is what the docs say (with any error type, unless a documented
dtype rule names one); computing with it is reported. Output dtypes are judged with the values
check's call (see `values.py`), as `dtype` verdicts of this check.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.checks.base import CaseCheck, TableRow
from harness.judge.verdicts import CaseContext, Verdict, VerdictName, error_matches, two_axes, unsupported_dtypes, verdict_of

if TYPE_CHECKING:
    from harness.cases.case import Case


class DtypesCheck(CaseCheck):
    name = "dtypes"
    order = 10  # an undocumented dtype decides the case before any raise rule does
    column = 3
    partition = ("variant", "probe")
    table = TableRow(1, "dtypes")

    def owns(self, ctx: CaseContext) -> bool:
        return bool(ctx.unsupported)

    def judge(self, ctx: CaseContext) -> list[Verdict]:
        if ctx.outcome.ok or ctx.outcome.crash:
            return [two_axes(ctx, "dtypes")]
        peer, cmp = ctx.against_peers()
        dtype_rules = [r for r in ctx.own_rules if "dtype(" in r.when]
        doc: VerdictName = "match" if not dtype_rules or any(error_matches(r, ctx.outcome) for r in ctx.own_rules) else "wrong-error"
        return [verdict_of(ctx, "dtypes", "match" if ctx.common_rules else peer, doc, cmp)]

    def table_text(self, api: dict[str, object], binding: dict[str, object]) -> str:
        documented: dict[str, list[str]] = binding["dtypes"]  # type: ignore[assignment]
        return "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(documented.items())) or "as the spec"

    def could_show(self, head: Verdict, case: Case) -> bool:
        if head.verdict == "dtype":  # an output dtype: a valid call of a documented dtype
            return case.origin != "invalid" and not unsupported_dtypes(head.binding, case)
        return bool(unsupported_dtypes(head.binding, case))


CHECK = DtypesCheck()
