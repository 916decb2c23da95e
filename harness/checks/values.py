"""The values check: a valid case's output against the float64 reference and the binding's own formula.

It also checks the output dtype its docs promise, as a `dtypes` verdict of the same call.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.checks.base import CaseCheck, TableRow
from harness.judge.verdicts import CaseContext, Verdict, expected_dtype, explain, two_axes, unsupported_dtypes

if TYPE_CHECKING:
    from harness.cases.case import Case


class ValuesCheck(CaseCheck):
    name = "values"
    order = 30  # claims what no other case check does
    column = 2
    partition = ("variant", "values", "form", "elements")
    table = TableRow(0, "formula (values)")

    def owns(self, ctx: CaseContext) -> bool:
        return True

    def judge(self, ctx: CaseContext) -> list[Verdict]:
        out = [two_axes(ctx, "values")]
        want = expected_dtype(ctx.binding, ctx.case)
        if ctx.outcome.ok and want and ctx.outcome.dtype != want:
            d = Verdict(ctx.binding, ctx.case, "dtypes", "dtype", "dtype", "dtype", expected={"dtype": want},
                        actual={"dtype": ctx.outcome.dtype}, message=f"output dtype {ctx.outcome.dtype}, documented {want}")
            explain(d, None, None, [])
            out.append(d)
        return out

    def table_text(self, api: dict[str, object], binding: dict[str, object]) -> str:
        return "own formula" if binding["formula"] else "spec formula"

    def could_show(self, head: Verdict, case: Case) -> bool:
        return case.origin != "invalid" and not unsupported_dtypes(head.binding, case)


CHECK = ValuesCheck()
