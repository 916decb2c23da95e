"""The warnings check: the Python warnings a binding's calls raise, against its peers' on the same calls.

Why: a warning is how some frameworks say that a call is outside what they support and computed anyway (torch
broadcasts a target of another shape with only a UserWarning; paddle casts one operand to the other's dtype with
one). A porting user whose code warned in one framework and is silent in another has lost that signal, or the
reverse. Each distinct warning (its category and message with the numbers taken out) of the binding's own
cases is put to each peer on up to PER_WARNING of its cases: where no peer that answers warns, it is a finding;
where one does, the warning is shared. A case no peer can answer (outside their documented domains) says nothing.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from harness.cases.case import Case
from harness.checks.base import BindingCheck, TableRow
from harness.judge.peers import Result
from harness.judge.verdicts import Verdict, VerdictName, explain

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner

PER_WARNING = 3  # cases per distinct warning put to the peers, the smallest core ones first


def kind(warning: str) -> str:
    """A warning without what its message quotes of the call (bracketed shapes and sizes, other numbers): its identity."""
    text = warning
    while True:
        shorter = re.sub(r"\([^()]*\)|\[[^\[\]]*\]", "(…)", text)
        if shorter == text:
            break
        text = shorter
    return re.sub(r"\d+", "#", text)[:120]


class WarningsCheck(BindingCheck):
    name = "warnings"
    order = 45  # after the case checks, whose calls it reads
    column = 9
    partition = ("variant", "probe")
    table = TableRow(9, "warnings")
    reproducer = "warns"

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        b = run.binding
        by_kind: dict[str, list[tuple[Case, str]]] = {}
        for case, raised in run.warned:
            for w in raised:
                by_kind.setdefault(kind(w), []).append((case, w))
        others = run.spec_run.peers_of(b, run.pool)
        verdicts = []
        for key, seen in sorted(by_kind.items()):
            chosen = sorted(seen, key=lambda cw: (cw[0].explored, cw[0].size, cw[0].fingerprint()))[:PER_WARNING]
            cases = [c for c, _ in chosen]
            answers: dict[str, list[Result | None]] = {}  # peer target -> its result per case (None: no answer)
            for bindings in others:
                for peer in bindings:  # the first binding of a framework that answers speaks for it
                    results = run.spec_run.ask(peer, [(c, {}) for c in cases], run.pool, self.name, cast=False, lane=run.lane)
                    if any(r is not None for r in results):
                        answers[peer.target] = results
                        break
            for i, (case, warning) in enumerate(chosen):
                heard = {t: got[i] for t, got in answers.items() if got[i] is not None}
                if not heard:
                    continue  # no peer could answer: no evidence either way
                shared = any(r.warnings for r in heard.values() if r is not None)
                verdict: VerdictName = "match" if shared else "warning"
                did = "; ".join(f"{t} {_did(r)}" for t, r in sorted(heard.items()) if r is not None)
                v = Verdict(b, case, "warnings", verdict, verdict, verdict, subject=key,
                            message="" if shared else f"warns {warning!r} and {_did_own(run, case)}; {did}",
                            expected={t: {"warnings": list(r.warnings), **r.shown()} for t, r in heard.items() if r is not None},
                            actual={"warnings": [warning]}, silent="no doc states which warnings a call raises")
                explain(v, None, None, [])
                verdicts.append(v)
        return verdicts

    def table_text(self, api: dict[str, object], binding: dict[str, object]) -> str:
        return "against its peers'"

    def empty_note(self, run: TargetRunner) -> str | None:
        return "no call of the binding raised a Python warning" if not run.warned else None


def _did(r: Result) -> str:
    return f"raises {r.error} without a warning" if r.kind == "error" else "computes without a warning"


def _did_own(run: TargetRunner, case: Case) -> str:
    return "computes" if case.fingerprint() in run.returned else "raises"


CHECK = WarningsCheck()
