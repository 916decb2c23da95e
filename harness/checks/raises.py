"""The raises check: documented raise conditions (common and the binding's own) and invalid-input probes.

The error must happen, with the documented type and message pattern; a binding documented to accept
a case (`error: none`) is judged by its formula instead.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from harness.checks.base import CaseCheck, TableRow
from harness.judge.verdicts import CaseContext, Verdict, two_axes, unsupported_dtypes

if TYPE_CHECKING:
    from harness.cases.case import Case


class RaisesCheck(CaseCheck):
    name = "raises"
    order = 20
    column = 4
    partition = ("variant", "probe", "form")
    table = TableRow(2, "errors raised")

    def owns(self, ctx: CaseContext) -> bool:
        return ctx.case.origin == "invalid" or ctx.common_rule is not None or ctx.own_rule is not None

    def judge(self, ctx: CaseContext) -> list[Verdict]:
        return [two_axes(ctx, "raises")]

    def table_text(self, api: dict[str, object], binding: dict[str, object]) -> str:
        own: list[object] = binding["raises"]  # type: ignore[assignment]
        return f"{len(own)} own rule{'s' if len(own) != 1 else ''}" if own else "the spec's rules"

    def could_show(self, head: Verdict, case: Case) -> bool:
        return not unsupported_dtypes(head.binding, case)

    def shrink_space(self) -> Literal["valid", "all"]:
        return "all"


CHECK = RaisesCheck()
