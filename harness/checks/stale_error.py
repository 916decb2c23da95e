"""The stale-error check: where an error lands when the framework runs as it does by default.

MindSpore launches operators asynchronously unless told otherwise (its docs say so: the framework registry's
`asynchronous`); the workers synchronize it so each error lands on its own case. A program that does not read
its loss at once meets the default: the call that should fail returns, and its error is raised by a later call
that is valid. This check calls, in a worker left unsynchronized, each sampled case whose call raised in the
run, does not read its result, then calls a valid case the binding computed: a `stale-error` finding names the
case that caused the error and the valid call that raised it. Documented, by that page."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.cases.case import Case
from harness.checks.base import BindingCheck, TableRow
from harness.judge import pairs
from harness.judge.verdicts import Verdict, explain
from harness.run.frameworks import registry as frameworks
from harness.run.pool import WorkerStartError

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner

PER_ERROR = 2  # raising cases per error type
CASES = 6  # raising cases per binding


class StaleErrorCheck(BindingCheck):
    name = "stale-error"
    order = 59
    column = 12
    table = TableRow(12, "errors raised by the call that caused them (unsynchronized)")
    no_script = ("a script would need the framework without the synchronized setup every reproducer starts with; "
                 "the finding's message names both calls")

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        b = run.binding
        documented = _asynchronous(b.framework)
        control = _control(run)
        if documented is None or control is None or not run.raised:
            return []
        core = [(c, kind) for c, kind in run.raised if not c.explored]  # the seed's exploration: not gated
        types = {c.fingerprint(): kind for c, kind in core}
        chosen = pairs.spread([c for c, _ in core], lambda c: types[c.fingerprint()], PER_ERROR, CASES)
        requests: list[dict[str, Any]] = []
        kept: list[Case] = []
        for case in chosen:
            first, then = run.keyword(b, case, 0), run.keyword(b, control, 0)
            if first is not None and then is not None:
                requests.append({"op": "after", "id": len(requests) + 1, "target": b.target, "first": first,
                                 "then": [then, then]})
                kept.append(case)
        if not requests:
            return []
        try:
            worker = run.pool.unsynchronized(b.framework)
        except WorkerStartError:
            return []
        with run.pool.unsynchronized_lock:  # one worker for the run: lanes take turns
            replies = worker.run(requests)
        return [v for case, reply in zip(kept, replies)
                if (v := _judged(b, case, types[case.fingerprint()], control, reply, documented))]

    def table_text(self, api: dict[str, object], binding: dict[str, object]) -> str:
        framework = str(binding["target"]).split(".")[0]  # a target is inside its framework (spec validation)
        return "tried unsynchronized" if _asynchronous(framework) else "synchronous"

    def empty_note(self, run: TargetRunner) -> str | None:
        if _asynchronous(run.binding.framework) is None:
            return "the framework runs each call to its end before returning: an error lands on its call"
        return "no case raised in the run" if not run.raised else None


def _asynchronous(framework: str) -> tuple[str, str] | None:
    """Where the framework documents asynchronous launches (None: it does not, or it is a fault test's fake)."""
    return frameworks.get(framework).asynchronous if framework in frameworks.names() else None


def _control(run: TargetRunner) -> Case | None:
    """A valid core case the binding computed in the run: the later call a program makes."""
    computed = [c for c in pairs.valid_core(run) if c.fingerprint() in run.returned and not c.nonfinite]
    return min(computed, key=lambda c: (c.size == 0, c.size), default=None)  # the smallest that has elements


def _judged(b: Any, case: Case, raised: str, control: Case, reply: dict[str, Any],
            documented: tuple[str, str]) -> Verdict | None:
    """match: the error landed on its call; stale-error: the next, valid call raised it. A crash or hang says nothing
    of where an error lands (the run's own checks report it)."""
    if reply.get("crash") or "first" not in reply:
        return None
    first, then = reply["first"], reply.get("then") or []
    own = (first.get("error") or {}).get("type")
    later = next(((k, r["error"]) for k, r in enumerate(then) if r.get("error")), None)
    if own is not None or later is None:
        return Verdict(b, case, "stale-error", "match", "match", "match", subject="")
    k, error = later
    ok_after = any(not r.get("error") for r in then[k + 1:])
    message = (f"raises {raised} on its own call when synchronized; unsynchronized, as by default, it returned without an "
               f"error (its result not read), and the next call, valid ({_short(control)}), "
               f"raised {error.get('type')}: {str(error.get('message', '')).splitlines()[0][:200]}"
               + ("; the call after that computed" if ok_after else "; so did the calls after it"))
    v = Verdict(b, case, "stale-error", "stale-error", "stale-error", "stale-error", subject=str(error.get("type")),
                message=message, expected={"error": "on the call that caused it"},
                actual={"error": error.get("type"), "raised by": f"call {k + 2} of the sequence (valid)"})
    explain(v, None, None, [])
    if not v.documented:
        v.documented, v.source, v.why = True, documented[0], f'the framework runs operators asynchronously by default: "{documented[1]}"'
    return v


def _short(case: Case) -> str:
    arrays = [f"{name} {a.dtype.name}{list(a.shape)}" for name, a in case.arrays.items() if a is not None]
    return ", ".join(arrays + [f"{k}={v!r}" for k, v in case.params.items() if k not in case.omit])


CHECK = StaleErrorCheck()
