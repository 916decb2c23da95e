"""Re-runs that tell a reproducible discrepancy from a random one: the `nondeterministic` verdict.

A framework can answer the same call differently: a race, uninitialised memory, a cache that
warms on first use, or an error raised on a later call than the one that caused it (asynchronous
runtimes report a failed kernel when the next call synchronises). Every case that produced a
discrepancy, and every `sample`-th of the others, runs once more in the same worker; the
discrepant ones (at most `fresh_limit`, evenly spread) run again in a fresh worker process, which
has no history: it catches an error that belongs to an earlier call. A case whose result
changes (value beyond rounding, error or not, error type, crash) gets one `nondeterministic`
verdict instead of whichever verdict its first run happened to give.

Not re-run: timeouts and memory failures (each would cost the time limit or the memory limit
again); they are verdicts about the process already.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.cases.case import Case, Outcome, brief, jsonable
from harness.judge import compare
from harness.judge.verdicts import Verdict, explain

NOT_RERUN = ("timeout", "memory")
#: Verdicts a shrink or a region probe does not chase: each try would cost a worker restart or the time
#: limit (crash, timeout, memory), or would not repeat (nondeterministic).
NOT_CHASED = ("crash", "timeout", "memory", "nondeterministic")

Call = Callable[[list[Case]], list[Outcome | None]]


@dataclass
class Judged:
    """One case as first run: its outcome and verdicts, and the call that ran just before it."""

    case: Case
    outcome: Outcome
    verdicts: list[Verdict]
    previous: Case | None = None


def describe(o: Outcome) -> str:
    """An outcome in a few words, for messages."""
    if o.crash:
        return f"{o.crash} ({(o.error or {}).get('message', '')[:160]})"
    if o.error:
        return f"error {o.error.get('type')}: {o.error.get('message', '')[:160]}"
    shape = list(np.shape(o.value)) if o.value is not None else None
    return f"a {o.dtype} value of shape {shape}"


def differs(first: Outcome, again: Outcome) -> str | None:
    """Why two outcomes of the same call are not the same result (None when they are)."""
    if (first.crash, first.error is None) != (again.crash, again.error is None):
        return f"{describe(first)}, then {describe(again)}"
    if not first.ok:
        if (first.error or {}).get("type") != (again.error or {}).get("type"):
            return f"{describe(first)}, then {describe(again)}"
        return None
    if first.dtype != again.dtype or np.shape(first.value) != np.shape(again.value):  # type: ignore[arg-type]
        return f"{describe(first)}, then {describe(again)}"
    cmp = compare.compare(again.value, first.value, first.dtype or "float64")  # type: ignore[arg-type]
    if cmp.verdict != "match":
        return f"values differ in {cmp.mismatched} of {cmp.total} elements (max abs {cmp.max_abs:.3g})"
    return None


def pick(judged: list[Judged], sample: int) -> tuple[list[int], list[int]]:
    """Indices to re-run: every case with a discrepancy, and every `sample`-th of the rest."""
    rerunnable = [i for i, j in enumerate(judged) if j.outcome.crash not in NOT_RERUN]
    suspects = [i for i in rerunnable if any(not v.is_match for v in judged[i].verdicts)]
    chosen = set(suspects)
    rest = [i for i in rerunnable if i not in chosen]
    return suspects, (rest[::sample] if sample > 0 else [])


def recheck(judged: list[Judged], same: Call, fresh: Call, sample: int = 8, fresh_limit: int = 32) -> list[Judged]:
    """The cases with their verdicts, a case whose re-runs disagree now `nondeterministic`.

    Suspects run first in the same worker, so a sampled case that leaves an error behind for the
    next call can only disturb other sampled cases, never a suspect.
    """
    suspects, sampled = pick(judged, sample)
    order = suspects + sampled
    if not order:
        return judged
    again = dict(zip(order, same([judged[i].case for i in order])))
    spread = suspects[::max(1, -(-len(suspects) // fresh_limit))] if fresh_limit > 0 else []
    anew = dict(zip(spread, fresh([judged[i].case for i in spread]))) if spread else {}
    churned = _after_writes(judged, suspects, same)
    out = list(judged)
    for i in order:
        runs = [("same worker", again.get(i)), ("fresh process", anew.get(i))]
        runs += [(f"same worker after another call ({k + 1})", o) for k, o in enumerate(churned.get(i, []))]
        reasons = [(label, why) for label, o in runs if o is not None and (why := differs(judged[i].outcome, o))]
        if reasons:
            out[i] = Judged(judged[i].case, judged[i].outcome,
                            [nondeterministic(judged[i], [(label, o) for label, o in runs if o is not None], reasons)],
                            judged[i].previous)
    return out


EMPTY_SUSPECTS = 8  # empty-input suspects per binding re-run after other calls
WRITES = 3  # times each, after a different call that writes memory


def _after_writes(judged: list[Judged], suspects: list[int], same: Call) -> dict[int, list[Outcome | None]]:
    """Suspects on empty input, each run again after each of a few other calls that returned values.

    A reduction over nothing that reads memory it never wrote gives whatever an earlier call left there; run
    again right after itself it often finds its own result, so a plain re-run can repeat the same garbage. After
    calls that write other values, it shows itself as a result that changes."""
    empty = [i for i in suspects if judged[i].case.empty]
    writers = sorted((j.case for j in judged if j.outcome.ok and j.case.size > 0), key=lambda c: -c.size)[:WRITES]
    if not empty or not writers:
        return {}
    chosen = empty[:EMPTY_SUSPECTS]
    calls = [c for i in chosen for w in writers for c in (w, judged[i].case)]
    outcomes = same(calls)
    return {i: outcomes[2 * (n * len(writers)) + 1::2][:len(writers)] for n, i in enumerate(chosen)}


def nondeterministic(j: Judged, runs: list[tuple[str, Outcome]], reasons: list[tuple[str, str]]) -> Verdict:
    first = j.verdicts[0]
    message = "; ".join(f"re-run in the {label}: {why}" for label, why in reasons)
    if j.outcome.error is not None and j.outcome.crash is None and any(o.ok for _, o in runs):
        message += ("; the error did not recur, so it may belong to the call before it"
                    + (f" (case {j.previous.fingerprint()}: {_params(j.previous)})" if j.previous is not None else "")
                    + ": some frameworks raise a failed call's error on the next call")
    v = Verdict(first.binding, j.case, first.check, "nondeterministic", "nondeterministic", "nondeterministic",
                message=message[:2000], expected={"first run": brief(j.outcome)},
                actual={label: brief(o) for label, o in runs})
    explain(v, None, None, [])
    return v


def _params(case: Case) -> str:
    shapes = {k: list(np.shape(a)) for k, a in case.arrays.items() if a is not None}
    return f"shapes {shapes}, params {jsonable(case.params)}"
