"""The crash budget: a region that keeps crashing or hanging is sampled, not run case by case.

Why: a binding that crashes on a whole class of inputs (paddle's nll_loss on a label equal to
ignore_index, its ctc_loss on a zero target length) pays a worker restart, or a deadline, for every
case of that class, and its re-runs, probes and shrinks pay again, while after a few such cases the
finding is known. A region is what partitions findings: the check, its case features (see
`findings.partition`), and the verdict family (crash, timeout, memory). Once one family has happened
`limit` times in a region, the binding's first pass runs only every `every`-th remaining case of that
region that looks like one that crashed or hung (the same features: dtypes, shape class, values, each
parameter's sign or value; see `findings.features`), and re-runs, region probes and shrinking never
send again a call that already crashed or hung there. After `restarts` worker restarts, no such
look-alike runs at all. Cases of the region that look different still run: the partition is coarse
(for the values check, finite or not), and other findings of it must not be lost. What was not run is
counted, for the report (`notes()`).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.cases.case import Case, Outcome
from harness.checks import registry
from harness.judge.findings import features, partition_of
from harness.judge.verdicts import CaseContext
from harness.run.deadline import key
from harness.spec.model import BindingView

FAMILIES = ("crash", "timeout", "memory")
Region = tuple[str, tuple[tuple[str, str], ...]]  # check, its partition features
Look = tuple[tuple[str, str], ...]  # all of a case's features


@dataclass
class _Call:
    check: str | None  # None: the case checks (the owning one decides the region)
    case: Case
    sampled: bool  # sent by the first pass: may be left out by sampling
    ordinal: int = -1  # its place among the look-alikes met after the region ran out (every n-th runs)
    region: Region | None = None
    look: Look | None = None


@dataclass
class Budget:
    binding: BindingView
    limit: int = 3  # crashes or hangs of a region before its cases are sampled (0: never)
    every: int = 4  # then every n-th case of it runs
    restarts: int = 60  # worker restarts of the binding after which no call of a crashed region runs
    restarts_so_far: Callable[[], int] = lambda: 0
    first_pass: bool = False  # set by the runner: its first pass over the cases (sampled), or a re-check
    rating: bool = False  # set by the runner while it measures a crash's rate: those runs are the point (within `restarts`)
    events: Counter[tuple[Region, str]] = field(default_factory=Counter)  # (region, family) -> crashes or hangs
    skipped: Counter[tuple[Region, str]] = field(default_factory=Counter)  # (region, sampled|repeat|restarts) -> calls not sent
    _calls: dict[Any, _Call] = field(default_factory=dict)
    _seen: Counter[tuple[Region, Look]] = field(default_factory=Counter)
    _looks: dict[Region, set[Look]] = field(default_factory=dict)  # what the calls that crashed or hung looked like
    _crashed: set[str] = field(default_factory=set)

    def label(self, rid: Any, check: str | None, case: Case) -> None:
        """What the request `rid` is: its case, and the binding check sending it (None: the case checks)."""
        self._calls[rid] = _Call(check, case, self.first_pass)

    def region(self, call: _Call) -> Region:
        if call.region is None:
            check = call.check or _owner(self.binding, call.case)
            found = features(call.case)
            call.region = (check, tuple(partition_of(check, found).items()))
            call.look = tuple(sorted(found.items()))
        return call.region

    def admit(self, request: dict[str, Any]) -> bool:
        """Whether to send the call (a skipped one is counted, with why)."""
        call = self._calls.get(request.get("id"))
        if call is None or not self.events or self.limit <= 0:
            return True
        region = self.region(call)
        if call.look not in self._looks.get(region, ()):
            return True  # it looks like nothing that crashed here
        why = ""
        if self.restarts_so_far() >= self.restarts:
            why = "restarts"
        elif self.rating:
            return True  # a crash's rate is measured past the sampling, not past the bound on restarts
        elif max(self.events[(region, f)] for f in FAMILIES) >= self.limit:
            if call.sampled:
                if call.ordinal < 0:  # decided once: a call replayed after its batch failed is not counted again
                    seen = (region, call.look or ())
                    call.ordinal, self._seen[seen] = self._seen[seen], self._seen[seen] + 1
                why = "" if call.ordinal % self.every == 0 else "sampled"
            elif key(request) in self._crashed:
                why = "repeat"
        if why:
            self.skipped[(region, why)] += 1
        return not why

    def open(self) -> bool:
        """Nothing crashed or hung yet (or sampling is off): every call is admitted, whatever comes next."""
        return not self.events or self.limit <= 0

    def observe(self, request: dict[str, Any], reply: dict[str, Any]) -> None:
        family = reply.get("crash")
        call = self._calls.get(request.get("id"))
        if call is None or family not in FAMILIES:
            return
        region = self.region(call)
        self.events[(region, str(family))] += 1
        self._looks.setdefault(region, set()).add(call.look or ())
        self._crashed.add(key(request))

    def notes(self) -> str:
        """What was not run and why, one clause per region and reason (empty: everything ran)."""
        out = []
        for (region, why), n in sorted(self.skipped.items()):
            seen = " and ".join(_count(self.events[(region, f)], f) for f in FAMILIES if self.events[(region, f)])
            if why == "sampled":
                out.append(f"{n} cases of region {describe(region)} skipped after {seen} (1 in {self.every} run of "
                           "the cases that look like one that crashed or hung)")
            elif why == "repeat":
                out.append(f"{n} re-checks of region {describe(region)} not run: the call had crashed or hung "
                           f"before, and the region had {seen}")
            else:
                out.append(f"{n} calls of region {describe(region)} that look like one that crashed or hung not run: "
                           f"the binding's {self.restarts} worker restarts were spent (the region had {seen})")
        return "; ".join(out)


def _count(n: int, family: str) -> str:
    word = {"crash": "crash", "timeout": "timeout", "memory": "memory failure"}[family]
    return f"{n} {word}" + ("" if n == 1 else "es" if family == "crash" else "s")


def describe(region: Region) -> str:
    check, part = region
    return check + ("[" + ", ".join(f"{k}={v}" for k, v in part) + "]" if part else "")


def _owner(binding: BindingView, case: Case) -> str:
    """The case check that judges the case (it does not depend on the outcome)."""
    return registry.owner(CaseContext.build(binding, case, Outcome(), None, None)).name
