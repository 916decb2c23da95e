"""The defaults check: omitting a parameter behaves like passing its documented default, and a
documented default that differs from the common spec's is reported (documented)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.cases.case import Case, Outcome, brief
from harness.checks.base import BindingCheck, TableRow
from harness.judge.compare import same_result
from harness.judge.verdicts import Verdict, VerdictName, explain, matching_rules, unsupported_dtypes
from harness.spec.model import ArraySpec

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner

CASES_PER_PARAM = 6  # valid core cases each default is tried on
REPEATS = 3  # times a pair that differs is called again before the difference is believed


class DefaultsCheck(BindingCheck):
    name = "defaults"
    order = 50
    column = 1
    reproducer = "default"
    table = TableRow(4, "defaults as documented")

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        spec, b = run.spec_run.spec, run.binding
        verdicts: list[Verdict] = []
        valid = [c for c in run.spec_run.cases if c.origin == "generated" and not c.explored and not unsupported_dtypes(b, c)
                 and not matching_rules(b.raises, c) and not matching_rules(spec.raises, c)]
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
            outs = list(zip(explicit, omitted, run.call(explicit), run.call(omitted)))
            differ = [i for i, (_e, _o, e_out, o_out) in enumerate(outs)
                      if e_out is not None and o_out is not None and not _same_outcome(e_out, o_out)]
            again = _repeat(run, explicit, omitted, differ, outs)
            for i, (_e_case, o_case, e_out, o_out) in enumerate(outs):
                if e_out is None or o_out is None:
                    continue
                same = i not in again
                e_again, o_again, varies = again.get(i, (None, None, False))
                verdict, message = _pair_verdict(name, default, same, e_out, o_out, varies)
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
    """The verdict and message of one explicit/omitted pair, in order of precedence: the same result; a call that
    kills or hangs the worker (that, whatever the default); a result that changes when repeated; a difference."""
    if same:
        return "match", ""
    crashed = e_out.crash or o_out.crash
    if crashed:
        return crashed, f"the call {'hangs' if crashed == 'timeout' else 'kills the worker'} (passing or omitting {name})"
    if varies:
        return "nondeterministic", f"the same call gives another result when repeated (passing or omitting {name})"
    return ("value" if e_out.ok and o_out.ok else "unexpected-error",
            f"omitting {name} differs from passing its documented default {default!r}")


def _repeat(run: TargetRunner, explicit: list[Case], omitted: list[Case], differ: list[int],
            outs: list[tuple[Case, Case, Outcome | None, Outcome | None]]) -> dict[int, tuple[Outcome | None, Outcome | None, bool]]:
    """Call each differing pair again, omitted first then explicit, up to `REPEATS` times: a call whose result
    changes (memory nothing wrote, whose content follows what ran before) is nondeterministic, not a default
    that differs. The order alternates because such memory often repeats itself when the same calls repeat."""
    again: dict[int, tuple[Outcome | None, Outcome | None, bool]] = {}
    todo = list(differ)
    for round_ in range(REPEATS):
        if not todo:
            break
        first, second = (omitted, explicit) if round_ % 2 == 0 else (explicit, omitted)
        a = run.call([first[i] for i in todo])
        b = run.call([second[i] for i in todo])
        o_new, e_new = (a, b) if round_ % 2 == 0 else (b, a)
        for i, e_again, o_again in zip(todo, e_new, o_new):
            e_out, o_out = outs[i][2], outs[i][3]
            varies = any(x is not None and was is not None and not _same_outcome(was, x) for was, x in ((e_out, e_again), (o_out, o_again)))
            again[i] = (e_again, o_again, varies)
        todo = [i for i in todo if not again[i][2]]
    return again


def _same_outcome(a: Outcome, b: Outcome) -> bool:
    if a.ok and b.ok:
        return a.dtype == b.dtype and same_result(a.value, b.value)  # type: ignore[arg-type]
    return (a.error or {}).get("type") == (b.error or {}).get("type") and a.crash == b.crash


CHECK = DefaultsCheck()
