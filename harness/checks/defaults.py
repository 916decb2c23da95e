"""The defaults check: omitting a parameter behaves like passing its documented default, and a
documented default that differs from the common spec's is reported (documented)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.cases.case import Outcome, brief
from harness.checks.base import BindingCheck, TableRow
from harness.judge import pairs
from harness.judge.verdicts import Verdict, VerdictName, explain
from harness.spec.model import ArraySpec

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner

CASES_PER_PARAM = 6  # valid core cases each default is tried on


class DefaultsCheck(BindingCheck):
    name = "defaults"
    order = 50
    column = 1
    reproducer = "default"
    table = TableRow(4, "defaults as documented")

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        spec, b = run.spec_run.spec, run.binding
        verdicts: list[Verdict] = []
        valid = pairs.valid_core(run)
        for name, param in spec.model.params.items():
            if b.name_of(name) is None or name not in b.defaults:
                continue
            default = b.defaults[name]
            common = getattr(param, "default", None)
            if default != common and not isinstance(param, ArraySpec):
                v = Verdict(b, None, "defaults", "value", "value", "match", subject=name,
                            message=f"default {name}={default!r}; the common spec's default is {common!r}",
                            expected={"default": common}, actual={"default": default})
                explain(v, None, None, [])
                if not v.source:
                    v.source, v.why = b.docs, f"documents {name}={default!r}"
                verdicts.append(v)
            explicit, omitted = [], []
            for case in valid[:CASES_PER_PARAM]:
                if isinstance(param, ArraySpec):
                    if default is not None:
                        continue
                    explicit.append(case.with_(arrays={**case.arrays, name: None}))
                    omitted.append(case.with_(arrays={**case.arrays, name: None}, omit=case.omit + (name,)))
                else:
                    explicit.append(case.with_(params={**case.params, name: default}))
                    omitted.append(case.with_(params={**case.params, name: default}, omit=case.omit + (name,)))
            outs = list(zip(run.call(explicit), run.call(omitted)))
            again = pairs.repeat(pairs.picking(run.call, explicit), pairs.picking(run.call, omitted), outs)
            for i, (o_case, (e_out, o_out)) in enumerate(zip(omitted, outs)):
                if e_out is None or o_out is None:
                    continue
                e_again, o_again, varies = again.get(i, (None, None, False))
                verdict, message = _pair_verdict(name, default, i not in again, e_out, o_out, varies)
                expected: dict[str, object] = {"explicit": brief(e_out, kind=False)}
                actual: dict[str, object] = {"omitted": brief(o_out, kind=False)}
                if varies:
                    expected["explicit, again"] = brief(e_again, kind=False) if e_again else None
                    actual["omitted, again"] = brief(o_again, kind=False) if o_again else None
                verdicts.append(Verdict(b, o_case, "defaults", verdict, "match", verdict, subject=name,
                                        message=message, expected=expected, actual=actual))
        return verdicts


def _pair_verdict(name: str, default: object, same: bool, e_out: Outcome, o_out: Outcome,
                  varies: bool) -> tuple[VerdictName, str]:
    """The verdict (see pairs.verdict) and message of one explicit/omitted pair."""
    verdict = pairs.verdict(e_out, o_out, same, varies)
    if verdict in ("crash", "timeout", "memory"):
        return verdict, f"the call {'hangs' if verdict == 'timeout' else 'kills the worker'} (passing or omitting {name})"
    if verdict == "nondeterministic":
        return verdict, f"the same call gives another result when repeated (passing or omitting {name})"
    return verdict, "" if verdict == "match" else f"omitting {name} differs from passing its documented default {default!r}"


CHECK = DefaultsCheck()
