"""Two forms of one call compared: passing a default or omitting it, keywords or positions, the spec's full call
or a naive port's. A difference is believed only after both forms ran again and still differed the same way.

Why repeats: memory nothing wrote, whose content follows what ran before, makes two forms of one call differ
once; such a pair is `nondeterministic`, not a difference between the forms.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.cases.case import Case, Outcome, brief
from harness.judge import compare
from harness.judge.stability import describe
from harness.judge.verdicts import Verdict, VerdictName, explain, matching_rules, unsupported_dtypes
from harness.spec.model import BindingView
from harness.spec.names import CheckName

if TYPE_CHECKING:
    from harness.run.forms import Build
    from harness.run.pipeline import TargetRunner

REPEATS = 3  # times a pair that differs is called again before the difference is believed

Calls = Callable[[list[int]], list[Outcome | None]]
"""Runs one form of the calls at these indices."""
Again = dict[int, tuple[Outcome | None, Outcome | None, bool]]
"""index -> (first form again, second form again, whether a form's result changed when repeated)."""


def picking(call: Callable[[list[Case]], list[Outcome | None]], cases: list[Case]) -> Calls:
    """One form of the calls: `call` on the cases at the given indices."""
    return lambda todo: call([cases[i] for i in todo])


def same_outcome(a: Outcome, b: Outcome) -> bool:
    if a.ok and b.ok:
        return a.dtype == b.dtype and compare.same_result(a.value, b.value)  # type: ignore[arg-type]
    return (a.error or {}).get("type") == (b.error or {}).get("type") and a.crash == b.crash


def differing(outs: list[tuple[Outcome | None, Outcome | None]]) -> list[int]:
    """Indices of the pairs whose two forms both ran and gave different results."""
    return [i for i, (a, b) in enumerate(outs) if a is not None and b is not None and not same_outcome(a, b)]


def repeat(first: Calls, second: Calls, outs: list[tuple[Outcome | None, Outcome | None]]) -> Again:
    """Call each differing pair again, up to REPEATS times, the order of the two forms alternating (such memory
    often repeats itself when the same calls repeat); a pair whose results change is not tried again."""
    again: Again = {}
    todo = differing(outs)
    for round_ in range(REPEATS):
        if not todo:
            break
        if round_ % 2 == 0:
            b_new = second(todo)
            a_new = first(todo)
        else:
            a_new = first(todo)
            b_new = second(todo)
        for i, a_again, b_again in zip(todo, a_new, b_new):
            a_out, b_out = outs[i]
            varies = any(x is not None and was is not None and not same_outcome(was, x)
                         for was, x in ((a_out, a_again), (b_out, b_again)))
            again[i] = (a_again, b_again, varies)
        todo = [i for i in todo if not again[i][2]]
    return again


def verdict(first: Outcome, second: Outcome, same: bool, varies: bool) -> VerdictName:
    """The verdict of the second form against the first, in order of precedence: the same result; a call that
    kills or hangs the worker; a result that changes when repeated; an error one form raises; another value."""
    if same:
        return "match"
    crashed = first.crash or second.crash
    if crashed:
        return crashed
    if varies:
        return "nondeterministic"
    if first.ok and second.ok:
        return "value"
    if first.ok:
        return "unexpected-error"
    if second.ok:
        return "missing-error"
    return "wrong-error"


def valid_core(run: TargetRunner) -> list[Case]:
    """The spec's core drawn cases the binding is documented to take (its dtypes, no raise rule): where another
    form of the call should give what the keyword call gives."""
    spec, b = run.spec_run.spec, run.binding
    return [c for c in run.spec_run.cases if c.origin == "generated" and not c.explored and not unsupported_dtypes(b, c)
            and not matching_rules(b.raises, c) and not matching_rules(spec.raises, c)]


Compared = tuple[Case, VerdictName, Outcome, Outcome]
"""A case, the verdict of the other form against the keyword call, and the two outcomes."""


def compare_forms(run: TargetRunner, cases: list[Case], build: Build) -> list[Compared]:
    """Each case called as the spec calls it and in the form `build` makes, differences repeated (see `repeat`);
    a case whose result changes when repeated is left out (memory nothing wrote: the values check reports it)."""
    outs = list(zip(run.call(cases), run.call(cases, build=build)))
    again = repeat(picking(run.call, cases), picking(lambda some: run.call(some, build=build), cases), outs)
    out: list[Compared] = []
    for i, (a, b) in enumerate(outs):
        varies = again.get(i, (None, None, False))[2]
        if a is not None and b is not None and not varies:  # a call whose result varies says nothing of its form
            out.append((cases[i], verdict(a, b, i not in again, False), a, b))
    return out


def contrast(first: Outcome, second: Outcome) -> str:
    """What the second outcome is, and by how much its value differs from the first's."""
    text = describe(second)
    if first.ok and second.ok and np.shape(first.value) == np.shape(second.value):  # type: ignore[arg-type]
        cmp = compare.compare(second.value, first.value, first.dtype or "float64")  # type: ignore[arg-type]
        text += f", off by up to {cmp.max_abs:.4g}"
    return text


def form_verdict(binding: BindingView, check: CheckName, compared: Compared, subject: str, labels: tuple[str, str],
                 message: str, why: str) -> Verdict:
    """The verdict of one compared case; a difference the binding's docs predict (`why`, when not empty, says
    from where) is documented, as a known difference of the spec can also say."""
    case, verdict_, first, second = compared
    v = Verdict(binding, case, check, verdict_, verdict_, verdict_, subject=subject,
                message="" if verdict_ == "match" else message,
                expected={labels[0]: brief(first, kind=False)}, actual={labels[1]: brief(second, kind=False)})
    explain(v, None, None, [])
    if why and not v.is_match and not v.documented:
        v.documented, v.source, v.why = True, binding.docs, why
    return v


def spread(cases: list[Case], form: Callable[[Case], Hashable | None], per_form: int, limit: int,
           order: Callable[[Hashable], Any] = str) -> list[Case]:
    """Up to `per_form` cases of each form (None: leave the case out), the forms in `order`, at most `limit`."""
    by_form: dict[Hashable, list[Case]] = {}
    for case in cases:
        key = form(case)
        if key is not None and len(by_form.setdefault(key, [])) < per_form:
            by_form[key].append(case)
    return [c for key in sorted(by_form, key=order) for c in by_form[key]][:limit]
