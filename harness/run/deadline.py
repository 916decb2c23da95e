"""How long to wait for a binding's calls, learned from its own successful calls, and what waiting cost.

Why: a hang costs whatever the deadline is, and a binding that hangs on some inputs hangs many times
(each call that hangs, its replay, its re-checks). A fixed `--case-timeout` sized for the slowest
framework makes every hang of a millisecond-fast binding cost a minute. A binding's own calls say how
long it takes: once one has answered, a call that takes `FACTOR` times its slowest answer (and at least
`FLOOR` seconds) is hung; a batch gets `PER_MORE` times the slowest answer more for each further call
(the margin is for one call being slow, not all of them). `--case-timeout` stays the ceiling and is the deadline until the binding has
answered once. A call that hung before never gets the ceiling again.
"""
from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from typing import Any

FLOOR = 2.0  # seconds: no learned deadline is shorter (pipe transfer, a loaded machine)
FACTOR = 100.0  # times the slowest successful call
PER_MORE = 10.0  # times the slowest successful call, for each further call of a batch (its calls run in turn)


@dataclass
class Ledger:
    """One binding's account at its workers: what its calls took, and what restarts and deadlines cost it."""

    slowest: float | None = None  # its slowest successful call so far (seconds inside the worker)
    calls: int = 0  # calls answered
    call_seconds: float = 0.0  # their time inside the worker
    restarts: int = 0  # worker processes replaced while running its calls
    restart_seconds: float = 0.0  # waiting for a replacement worker to be ready
    timeouts: int = 0  # deadlines that expired (a batch or a single call)
    waited_seconds: float = 0.0  # waiting on deadlines that expired
    hung: set[str] = field(default_factory=set)  # keys of calls that hung

    def learn(self, replies: list[dict[str, Any]]) -> None:
        """Count answered calls; a successful one may raise the slowest call time."""
        for reply in replies:
            seconds = float(reply.get("seconds") or 0.0)
            self.calls += 1
            self.call_seconds += seconds
            if "error" not in reply and "crash" not in reply:
                self.slowest = seconds if self.slowest is None else max(self.slowest, seconds)

    def deadline(self, batch: list[dict[str, Any]], ceiling: float) -> tuple[float, str]:
        """Seconds to wait for `batch`'s answer, and why (for a timeout verdict's message)."""
        if self.slowest is None:
            if len(batch) == 1 and key(batch[0]) in self.hung:
                return min(ceiling, FLOOR), f"this call hung before, so it gets the {FLOOR:g} s floor, not the ceiling"
            return ceiling, "the --case-timeout ceiling: no call of this binding had answered yet"
        learned = max(FLOOR, (FACTOR + PER_MORE * (len(batch) - 1)) * self.slowest)
        how = (f"{FACTOR:g} x this binding's slowest successful call ({self.slowest * 1000:.3g} ms)"
               + (f" + {PER_MORE:g} x it for each of {len(batch) - 1} more calls in the batch" if len(batch) > 1 else "")
               + f", at least {FLOOR:g} s")
        if learned >= ceiling:
            return ceiling, f"the --case-timeout ceiling ({how} would be longer)"
        return learned, f"learned: {how}"

    def timed_out(self, batch: list[dict[str, Any]], waited: float) -> None:
        self.timeouts += 1
        self.waited_seconds += waited
        if len(batch) == 1:
            self.hung.add(key(batch[0]))

    def figures(self) -> dict[str, float | int]:
        """What report.json keeps of it (see reports/report.schema.json, targets[].workers)."""
        return {"calls": self.calls, "call_seconds": round(self.call_seconds, 3), "restarts": self.restarts,
                "restart_seconds": round(self.restart_seconds, 3), "timeouts": self.timeouts,
                "waited_seconds": round(self.waited_seconds, 3)}


def key(request: dict[str, Any]) -> str:
    """A call's identity apart from its id: the same case sent again has the same key."""
    body = {k: v for k, v in request.items() if k != "id"}
    return hashlib.sha256(pickle.dumps(body, protocol=4)).hexdigest()[:24]
