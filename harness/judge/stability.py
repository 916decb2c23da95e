"""Re-runs that tell a reproducible discrepancy from a random one: the `nondeterministic` verdict.

A framework can answer the same call differently: a race, uninitialised memory, a cache that
warms on first use, or an error raised on a later call than the one that caused it (asynchronous
runtimes report a failed kernel when the next call synchronises). Every case that produced a
discrepancy, and every `sample`-th of the others, runs once more in the same worker; the
discrepant ones (at most `fresh_limit`, evenly spread) run again in a fresh worker process, which
has no history: it catches an error that belongs to an earlier call. A case whose result
changes (value beyond rounding, error or not, error type, crash) gets one `nondeterministic`
verdict instead of whichever verdict its first run happened to give.

A crash (a worker killed by a signal) that comes and goes is one finding with its rate, not a
`nondeterministic` one whose verdict depends on which run came first: every case that crashed in
any of its runs, and every replayed case of an accepted crash (even one whose first run was clean),
runs again in fresh processes until it has `CRASH_RUNS` runs (an accepted crash that has not crashed
yet: up to `ACCEPTED_RUNS`), and keeps a `crash` verdict that says
"crashed in k of n runs" (metrics `crash_rate`, `crash_runs`).

Not re-run: timeouts and memory failures (each would cost the time limit or the memory limit
again); they are verdicts about the process already.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.cases.case import Case, Outcome, brief, jsonable
from harness.judge import compare
from harness.judge.verdicts import Verdict, explain

NOT_RERUN = ("timeout", "memory")
CRASH_RUNS = 5  # runs of a case that crashed once (the first run and the re-runs included)
ACCEPTED_RUNS = 20  # runs an accepted crash's replay may take to crash again (a heap-corruption crash comes 1 in 5)
CRASH_CASES = 16  # cases per binding whose crash rate is measured: one per finding region that crashed
#: Verdicts a shrink or a region probe does not chase: each try would cost a worker restart or the time
#: limit (crash, timeout, memory), or would not repeat (nondeterministic).
NOT_CHASED = ("crash", "timeout", "memory", "nondeterministic")

Call = Callable[[list[Case]], list[Outcome | None]]
Lead = Callable[["Verdict"], tuple[Hashable, Any]]
"""A verdict's finding region, and its rank among the region's members (the least leads the finding)."""


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
    suspects = [i for i in rerunnable if any(not v.is_match for v in judged[i].verdicts) or judged[i].case.crashes]
    chosen = set(suspects)
    rest = [i for i in rerunnable if i not in chosen]
    return suspects, (rest[::sample] if sample > 0 else [])


def recheck(judged: list[Judged], same: Call, fresh: Call, sample: int = 8, fresh_limit: int = 32,
            alone: Call | None = None, lead: Lead | None = None) -> list[Judged]:
    """The cases with their verdicts, a case whose re-runs disagree now `nondeterministic`, one that crashed
    in any run a `crash` with its rate (measured with `alone`: one case, one fresh process, every run, on the case
    that will lead each crash's finding, as `lead` says).

    Suspects run first in the same worker, so a sampled case that leaves an error behind for the
    next call can only disturb other sampled cases, never a suspect.
    """
    suspects, sampled = pick(judged, sample)
    order = suspects + sampled
    if not order:
        return judged
    again = dict(zip(order, same([judged[i].case for i in order])))
    # the core's and replays' suspects first, spread over the limit, and the explored ones only in what is left: which
    # fixed cases run in a fresh process must not depend on how many suspects this seed's exploration adds
    fixed = _spread([i for i in suspects if not judged[i].case.explored], fresh_limit)
    spread = fixed + _spread([i for i in suspects if judged[i].case.explored], fresh_limit - len(fixed))
    anew = dict(zip(spread, fresh([judged[i].case for i in spread]))) if spread else {}
    churned = _after_writes(judged, suspects, same)
    rated = _rate_runs(judged, order, again, anew, alone, lead or _no_lead)
    out = list(judged)
    for i in order:
        runs = [("same worker", again.get(i)), ("fresh process", anew.get(i))]
        runs += [(f"same worker after another call ({k + 1})", o) for k, o in enumerate(churned.get(i, []))]
        runs += [(f"fresh process ({k + 1 + (i in anew)})", o) for k, o in enumerate(rated.get(i, []))]
        taken = [(label, o) for label, o in runs if o is not None]
        if _crashed(judged[i].outcome) or any(_crashed(o) for _, o in taken):
            out[i] = Judged(judged[i].case, judged[i].outcome, crash_rate(judged[i], taken), judged[i].previous)
            continue
        reasons = [(label, why) for label, o in runs if o is not None and (why := differs(judged[i].outcome, o))]
        if reasons:
            out[i] = Judged(judged[i].case, judged[i].outcome,
                            [nondeterministic(judged[i], [(label, o) for label, o in runs if o is not None], reasons)],
                            judged[i].previous)
    return out


def _spread(indices: list[int], limit: int) -> list[int]:
    """At most `limit` of the indices, evenly spread."""
    return indices[::max(1, -(-len(indices) // limit))] if limit > 0 else []


def _crashed(o: Outcome | None) -> bool:
    return o is not None and o.crash == "crash"


def _no_lead(v: Verdict) -> tuple[Hashable, Any]:
    return (v.check,), 0


def _rate_runs(judged: list[Judged], order: list[int], again: dict[int, Outcome | None],
               anew: dict[int, Outcome | None], alone: Call | None, lead: Lead) -> dict[int, list[Outcome | None]]:
    """Runs in fresh processes, one each, until CRASH_RUNS runs, of the case that will lead each crash's finding
    (its partition's leading case: an accepted crash's replay, else the simplest core case; at most CRASH_CASES):
    a crash that comes and goes gets a rate, not a coin toss."""
    if alone is None:
        return {}
    leads: dict[Hashable, tuple[Any, int]] = {}
    for i in order:
        j = judged[i]
        if not (j.case.crashes or any(_crashed(o) for o in (j.outcome, again.get(i), anew.get(i)))):
            continue
        region, rank = lead(j.verdicts[0])
        if region not in leads or rank < leads[region][0]:
            leads[region] = (rank, i)
    out: dict[int, list[Outcome | None]] = {}
    for i in sorted(i for _, i in leads.values())[:CRASH_CASES]:
        taken = [o for o in (judged[i].outcome, again.get(i), anew.get(i)) if o is not None]
        runs = out[i] = []
        while len(taken) < CRASH_RUNS or (judged[i].case.crashes and len(taken) < ACCEPTED_RUNS
                                          and not any(_crashed(o) for o in taken)):
            o = alone([judged[i].case])[0]
            runs.append(o)
            if o is None:
                break  # the process could not start: no rate to take
            taken.append(o)
    return out


def crash_rate(j: Judged, runs: list[tuple[str, Outcome]]) -> list[Verdict]:
    """The case's verdicts as a crash with its rate over every run: the first run's own crash verdicts, or (a
    case whose first run was clean) one built from the first crash of a re-run."""
    every = [("first run", j.outcome)] + runs
    crashed = [(label, o) for label, o in every if _crashed(o)]
    rate = f"crashed in {len(crashed)} of {len(every)} runs ({', '.join(label for label, _ in crashed)})"
    fresh = [o for label, o in runs if label.startswith("fresh process")]
    metrics: dict[str, Any] = {"crash_rate": round(len(crashed) / len(every), 2), "crash_runs": len(every)}
    if len(fresh) >= 2 and not any(_crashed(o) for o in fresh):
        rate += (f", only in a worker that had run other calls before it (0 of {len(fresh)} fresh processes): "
                 "the crash needs what ran before")
        metrics["crash_history_only"] = True
    if _crashed(j.outcome):
        for v in j.verdicts:
            v.message = f"{rate}: {v.message}" if v.message else rate
            v.metrics.update(metrics)
        return j.verdicts
    first = j.verdicts[0]
    label, o = crashed[0]
    v = Verdict(first.binding, j.case, first.check, "crash", "crash", "crash",
                message=f"{rate}; the first run gave {describe(j.outcome)}; {describe(o)}"[:2000],
                expected={"first run": brief(j.outcome)}, actual={lb: brief(x) for lb, x in every[1:]}, metrics=metrics)
    explain(v, None, None, [])
    return [v]


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
