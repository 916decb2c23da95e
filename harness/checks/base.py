"""What a check is: one registered unit that turns a binding's cases into verdicts.

A check declares everything the rest of the pipeline needs to know about it, so adding one is
adding a module under `harness/checks/` (the registry finds it) and its name to `CheckName`
(`harness/spec/names.py`, what a spec may name):
- how it produces verdicts for a binding: `verdicts(run)`, or `owns` and `judge` for a case check;
- `partition`: the case features that split its findings into separate causes;
- `probed` / `shrunk`: whether its findings' regions are probed and their cases shrunk;
- `reproducer`: what a reproducer script of its findings captures;
- `table`: its row in the API-difference table (position and label), or None.

Two kinds: a `BindingCheck` makes its own calls (`verdicts(run)`); the `CaseCheck`s (values, dtypes,
raises) share one call per case: each case goes to the first case check, in run order, that `owns`
it, and that check judges the framework's outcome.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from harness.spec.names import CheckName

if TYPE_CHECKING:
    from harness.cases.case import Case
    from harness.judge.peers import Result
    from harness.judge.verdicts import CaseContext, Verdict
    from harness.run.forms import Build, Keyword
    from harness.run.pipeline import TargetRunner
    from harness.spec.formula import Formula
    from harness.spec.model import BindingView

__all__ = ["BindingCheck", "CaseCheck", "Check", "CheckName", "Reproducer", "TableRow"]

Reproducer = Literal["call", "signature", "default", "example", "forms", "warns", "none"]
"""What a reproducer script of a finding captures: the call and its expected outcome, the introspected
signature, a documented default, a documented example's printed output, the spec's keyword call beside the other
form of it the check makes (`Check.form`), the call's Python warnings, or nothing (not scriptable yet: `no_script`
says why)."""


@dataclass(frozen=True)
class TableRow:
    """A check's row in the API-difference table: rows are sorted by `position`."""

    position: int
    label: str


class Check:
    """Base of every check; subclasses set the class attributes and `verdicts`."""

    name: ClassVar[CheckName]
    order: ClassVar[int]
    """When it runs on a binding (ascending). Framework state can depend on earlier calls (MindSpore's
    uninitialised memory), so the order is part of what a run is."""
    column: ClassVar[int]
    """Its place among the checks in the report's matrix and the pytest items of a binding."""
    partition: ClassVar[tuple[str, ...]] = ("variant",)
    probed: ClassVar[bool] = False
    shrunk: ClassVar[bool] = False
    reproducer: ClassVar[Reproducer] = "none"
    no_script: ClassVar[str] = "this check's findings get no script yet"
    table: ClassVar[TableRow | None] = None
    skip_when_empty: ClassVar[bool] = True
    """A binding with no verdict of this check skips its item (examples: no example is no test, and passes)."""

    def table_text(self, api: dict[str, object], binding: dict[str, object]) -> str:
        """What a binding's cell in this check's table row says before the run's evidence."""
        return "checked"

    def form(self, binding: BindingView, keyword: Keyword) -> tuple[Build, str] | None:
        """The other form of the call this check compares with the spec's keyword call (`keyword`), and its label
        (a `forms` reproducer shows both)."""
        return None

    def call_build(self, v: Verdict, keyword: Keyword) -> Build | None:
        """The form of the call `v` was made with, for its reproducer (None: the spec's keyword call)."""
        return None

    def reference_formula(self, v: Verdict) -> Formula | None:
        """The formula `v`'s call was compared with, for its reproducer (None: the binding's own or the common one)."""
        return None

    def prober(self, run: TargetRunner) -> Callable[[list[Case]], list[Verdict]] | None:
        """How region probes judge moved cases for this check's findings (None: not probed)."""
        return run.judge_cases if self.probed else None

    def could_show(self, head: Verdict, case: Case) -> bool:
        """False when `case` cannot give `head`'s verdict whatever the framework does (shrinking skips it)."""
        return True

    def peer_call(self, v: Verdict, inputs: list[str]) -> dict[str, Any] | None:
        """The request fields that make `v`'s call again in a peer's binding, for peer arbitration of a
        verdict no doc decides (None: this check's verdicts are not arbitrated). `inputs`: the spec's inputs."""
        return None

    def no_opinion(self, v: Verdict, result: Result) -> bool:
        """Whether a peer's answer to `v`'s call is no opinion on its question (shown, not counted)."""
        return False


class BindingCheck(Check):
    """A check that makes its own calls for a binding (its signature, its defaults, its examples, its gradients)."""

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        raise NotImplementedError

    def empty_note(self, run: TargetRunner) -> str | None:
        """Why the binding got no verdict of this check, when the reason is worth more than "no cases applied"."""
        return None


class CaseCheck(Check):
    """A check judged on the generated and replayed cases, with one framework call per case shared by every
    case check: the pipeline calls each case once and the first case check that `owns` it judges the outcome."""

    probed = True
    shrunk = True
    reproducer = "call"

    def owns(self, ctx: CaseContext) -> bool:
        """Whether this check judges the case (the first owning case check in run order does)."""
        raise NotImplementedError

    def judge(self, ctx: CaseContext) -> list[Verdict]:
        raise NotImplementedError

    def peer_call(self, v: Verdict, inputs: list[str]) -> dict[str, Any] | None:
        return {}  # the plain call of the case

    def shrink_space(self) -> Literal["valid", "all"]:
        """Which cases the shrinker searches: valid ones, or valid and invalid (raise probes)."""
        return "valid"
