"""The naive-port check: each binding called without the framework-only arguments the spec passes (`extra:`, e.g.
paddle's axis and soft_label) that the first framework's call does not write, as a port that renames keyword for
keyword writes it, against the spec's full call.

A difference is documented (the framework documents those defaults) and is what such a port gets wrong."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.checks.base import BindingCheck, TableRow
from harness.judge import pairs
from harness.judge.stability import describe
from harness.judge.verdicts import Verdict
from harness.run import forms

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner
    from harness.spec.model import BindingView

PER_FORM = 4  # cases per set of left-out arguments
CASES = 12  # cases per binding


class NaivePortCheck(BindingCheck):
    name = "naive-port"
    order = 56
    column = 8
    table = TableRow(8, "framework-only arguments left at their defaults")
    reproducer = "forms"

    def form(self, binding: BindingView, keyword: forms.Keyword) -> tuple[forms.Build, str] | None:
        return forms.naive_request(keyword), "without the framework-only arguments"

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        b = run.binding
        cases = pairs.spread(pairs.valid_core(run), lambda c: tuple(sorted(forms.dropped(b, c))) or None, PER_FORM, CASES)
        verdicts = []
        for compared in pairs.compare_forms(run, cases, forms.naive_request(run.keyword)):
            case, _, full, naive = compared
            gone = forms.dropped(b, case)
            message = (f"left out, {_listed(gone, 1)} (documented defaults) instead of the spec's {_listed(gone, 0)}: "
                       f"{pairs.contrast(full, naive)}; the full call gives {describe(full)}")
            verdicts.append(pairs.form_verdict(b, "naive-port", compared, ",".join(sorted(gone)), ("full call", "naive port"),
                                               message, f"documents {_listed(gone, 1)}"))
        return verdicts

    def table_text(self, api: dict[str, object], binding: dict[str, object]) -> str:
        return "left out"

    def empty_note(self, run: TargetRunner) -> str | None:
        if not any(forms.dropped(run.binding, c) for c in pairs.valid_core(run)):
            return "a port from the first framework writes every argument the spec passes here: it is the spec's call"
        return None


def _listed(gone: dict[str, tuple[object, object]], which: int) -> str:
    return ", ".join(f"{name}={pair[which]!r}" for name, pair in sorted(gone.items()))


CHECK = NaivePortCheck()
