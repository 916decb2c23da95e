"""Running one spec against one binding: cases -> calls -> verdicts -> findings (shrunk)."""
from __future__ import annotations

import gc
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.cases import generate, pairwise
from harness.cases.case import Case, Outcome
from harness.cases.examples import load_examples
from harness.checks import registry
from harness.checks.base import BindingCheck, CaseCheck
from harness.checks.gradients import GradientCheck
from harness.judge import peers, stability
from harness.judge.findings import Finding, features, group, leading, partition, partition_of
from harness.judge.reference import Reference, evaluate
from harness.judge.region import locate
from harness.judge.verdicts import CaseContext, Verdict, explained_by_dtype, matching_rules, stated, unsupported_dtypes
from harness.run import wire
from harness.run.budget import Budget
from harness.run.deadline import Ledger, key
from harness.run.forms import Build
from harness.run.pool import Pool, Worker, WorkerStartError
from harness.spec import dtypes
from harness.spec.formula import Formula
from harness.spec.model import ArraySpec, BindingView, Spec

CORE_SEED = 0x5EED  # the core cases every run draws, whatever its seed
PAIR_POOL = 200  # valid draws the pairwise top-up picks from (cases/pairwise.py)


@dataclass
class Config:
    """`max_examples` cases per spec: two thirds from the fixed core, the rest explored with `seed`.

    Why the split: the gate must not depend on the seed (the core and the replayed regression cases
    decide it), while each seed still explores new cases whose findings are reported as explored.
    """

    seed: int = 20261121
    max_examples: int = 150
    shrink_budget: int = 120  # examples per shrink; a count, not a time, so reports repeat exactly
    cases_dir: Path | None = None
    recheck_sample: int = 8  # re-run every case with a discrepancy and every n-th other one (0: discrepancies only)
    recheck_fresh: int = 32  # of those with a discrepancy, at most this many again in a fresh process
    recheck: bool = True  # re-runs that turn a result that changes into a `nondeterministic` verdict
    crash_budget: int = 3  # crashes or hangs of a finding region before its cases are sampled (0: never); see run/budget.py
    crash_sample: int = 4  # then every n-th case of the region runs
    restart_limit: int = 60  # worker restarts per binding after which no call of a crashed region runs

    @property
    def core_examples(self) -> int:
        return self.max_examples - self.explore_examples

    @property
    def explore_examples(self) -> int:
        return self.max_examples // 3


@dataclass
class TargetResult:
    binding: BindingView
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # check -> verdict -> n
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    calls: int = 0
    error: str | None = None  # the binding could not be run at all
    notes: dict[str, str] = field(default_factory=dict)  # check -> why it has no cases
    check_seconds: dict[str, float] = field(default_factory=dict)  # of `seconds`: per check (its calls and its probes)
    costs: dict[str, float | int] = field(default_factory=dict)  # where `seconds` went: see `TargetRunner.costs`

    @property
    def gradient_seconds(self) -> float:
        """What the gradients check cost (cases, references, framework calls, probes)."""
        return self.check_seconds.get("gradients", 0.0)


class SpecRun:
    """The cases of one spec (drawn once per process) and their references."""

    def __init__(self, spec: Spec, config: Config) -> None:
        self.spec, self.config = spec, config
        bulk = generate.all_cases(spec, elementwise=0)  # values from numpy: see generate.valid_cases
        core = generate.draw(bulk, config.core_examples, CORE_SEED)
        seen = {c.fingerprint() for c in core}
        swept = [c for c in generate.sweep(spec, CORE_SEED) if c.fingerprint() not in seen]  # every probe, every run
        core += swept
        seen |= {c.fingerprint() for c in swept}
        pool = generate.draw(generate.valid_cases(spec, elementwise=0), PAIR_POOL, CORE_SEED + 1)

        def valid(c: Case) -> bool:
            return not matching_rules(spec.raises, c)

        feats = pairwise.features(spec)
        self.pairs = pairwise.demanded(feats, pool, valid)  # what the top-up meets and the coverage section counts
        paired = [c for c in pairwise.top_up(feats, self.pairs, [c for c in core if c.origin == "generated"], pool, valid)
                  if c.fingerprint() not in seen]
        core += paired
        seen |= {c.fingerprint() for c in paired}
        flat = [c for c in generate.unbatched(spec, [c for c in core if c.origin == "generated"]) if valid(c)]
        core += [c for c in flat if c.fingerprint() not in seen]  # the documented form without the batch dim
        seen |= {c.fingerprint() for c in flat}
        explored = [c.with_(explored=True) for c in generate.draw(bulk, config.explore_examples, config.seed)
                    if c.fingerprint() not in seen]
        self.cases = core + explored
        checked_in = load_examples(config.cases_dir, spec) if config.cases_dir else []
        self.examples = [c for c in checked_in if not c.regression]
        self.regressions = [c for c in checked_in if c.regression]  # replayed every run: see harness/replay.py
        self._refs: dict[tuple[str, str], Reference] = {}
        # spent evaluating references (each once per process, for the first binding to read it), per thread: bindings
        # run side by side in lanes of their own threads, and each is charged only what its own thread evaluated
        self._reference_seconds: dict[int, float] = {}
        self.gradients = GradientCheck(spec, [c for c in self.cases if not c.unbatched])  # gradref: batched formulas
        self._lanes: dict[str, _Lane] = {}  # lane -> what its bindings heard and asked of peers (see `lane`)

    def reference(self, case: Case, binding: BindingView | None = None, formula: Formula | None = None) -> Reference | None:
        """The common reference, or with `binding` that binding's own documented formula (if any), or `formula`'s."""
        formula = formula or (self.spec.formula if binding is None else binding.formula)
        if formula is None:
            return None
        key = (case.fingerprint(), formula.source)  # bindings documenting the same formula share its evaluation
        if key not in self._refs:
            self._refs[key] = evaluate(formula, case, later=True, spent=self._spent)  # unread when the call raises as it must
        return self._refs[key]

    def _spent(self, seconds: float) -> None:
        thread = threading.get_ident()
        self._reference_seconds[thread] = self._reference_seconds.get(thread, 0.0) + seconds

    def reference_seconds(self) -> float:
        """What this thread has spent evaluating references of this spec."""
        return self._reference_seconds.get(threading.get_ident(), 0.0)

    def lane(self, name: str) -> _Lane:
        """A lane's peer state. Bindings that run one after another share a lane (""); bindings run side by side
        (RunSession's lanes, one per binding) each keep their own, so what a peer is asked, in which process and
        order, and which answers are already known never depends on how far another lane has come."""
        if name not in self._lanes:
            self._lanes[name] = _Lane()
        return self._lanes[name]

    def heard(self, target: str, case: Case, extra: dict[str, Any], reply: dict[str, Any], lane: str = "") -> None:
        """Keep what a binding's own call gave: when it is asked as a peer, the answer is already known. Kept as
        received (decoded only if a peer is ever asked: most never are)."""
        if math.prod((reply.get("value") or {}).get("shape") or ()) <= HEARD_ELEMENTS:
            self.lane(lane).heard[(target, case.fingerprint(), _fields(extra))] = reply

    def peers_of(self, binding: BindingView, pool: Pool) -> list[list[BindingView]]:
        """The bindings of each other framework that can run here, the same kind first: the first answers; the
        next is asked what the one before could not (a float margin MindSpore's function cannot take, its class
        can)."""
        out = []
        for framework in dict.fromkeys(b.framework for b in self.spec.bindings):
            if framework == binding.framework or framework not in pool.pythons:
                continue
            theirs = [b for b in self.spec.bindings if b.framework == framework]
            out.append(sorted(theirs, key=lambda b: b.kind != binding.kind))
        return out

    def ask(self, peer: BindingView, items: list[tuple[Case, dict[str, Any]]], pool: Pool,
            check: str = "values", cast: bool = True, lane: str = "") -> list[peers.Result | None]:
        """What `peer` gives for each (case, request fields) of `check`: known answers, else calls in the pool's
        peer worker. None where the case is outside its documented domain (with `cast`, asked in a float dtype it
        documents where only that is outside: see `within`), it cannot express the case, crashed, hung or was not
        asked again after crashing."""
        cases = [within(peer, case, check) if cast else None if _outside(peer, case, check) else case for case, _extra in items]
        keys: list[tuple[str, str, str] | None] = [
            None if case is None else (peer.target, case.fingerprint(), _fields(extra)) for case, (_, extra) in zip(cases, items)]
        state = self.lane(lane)
        requests, asked = [], []
        for k, case, (_, extra) in zip(keys, cases, items):
            if k is None or case is None or k in state.heard or k in asked:
                continue
            state.ids += 1
            request = build_request(peer, case, state.ids)
            if request is None:
                state.heard[k] = None
                continue
            requests.append({**request, **extra})
            asked.append(k)
        if requests:
            try:
                worker = pool.peer(peer.framework, lane)
            except WorkerStartError:
                return [None if k is None else peers.Result.of_reply(state.heard.get(k)) for k in keys]
            guard = state.guards.setdefault(peer.target, _PeerGuard())
            for k, reply in zip(asked, worker.run(requests, guard)):
                state.heard[k] = None if reply.get("skipped") else reply
        return [None if k is None else peers.Result.of_reply(state.heard.get(k)) for k in keys]


def settle_heap() -> None:
    """Put what the run holds so far out of the cyclic collector's way: the drawn cases live as long as the run, and
    every full collection walked them again (10 s of gen-2 passes in a serial run). Called where nothing is in flight
    (between specs): a cycle frozen while still in use would never be freed, so garbage is collected first."""
    gc.collect()
    gc.freeze()


def _outside(peer: BindingView, case: Case, check: str) -> bool:
    """A case outside the peer's documented domain: what it does there is no opinion on what no doc decides.
    Outside is a dtype its docs do not list, or (but for the raises check, where raising is the answer asked
    for) a raise its docs state; a precondition alone (see `verdicts.stated`) does not take it out."""
    if unsupported_dtypes(peer, case):
        return True
    return check != "raises" and any(r.error != "none" and stated(r) for r in matching_rules(peer.raises, case))


PEER_FLOATS = ("float32", "float64")  # what a float input a peer does not document is asked in instead, in order


def within(peer: BindingView, case: Case, check: str) -> Case | None:
    """The case as the peer is asked it: itself where the peer documents it; else, where only float dtypes are
    outside the peer's docs (MindSpore's classes take no float64, no CPU kernel takes bfloat16), the same
    values in a float dtype it documents (the question, a shape that should raise or a nan's convention, is
    the same; the comparison allows the coarser dtype's rounding); None where it cannot be asked."""
    if not _outside(peer, case, check):
        return case
    if case.probe.endswith((":dtype", ":mixed-dtype")):
        return None  # the dtypes are the question: asked in others, the peer would answer another one
    arrays = dict(case.arrays)
    for name, allowed in peer.dtypes.items():
        a = arrays.get(name)
        if a is None or dtypes.name(a) in allowed:
            continue
        to = next((d for d in PEER_FLOATS if d in allowed), None)
        if to is None or not dtypes.is_float(dtypes.name(a)):
            return None
        with np.errstate(over="ignore"):
            cast = a.astype(to)
        if not np.array_equal(np.isfinite(cast), np.isfinite(dtypes.to_float64(a))):
            return None  # a value that overflows the narrower dtype asks another question
        arrays[name] = cast
    moved = case.with_(arrays=arrays)
    return None if _outside(peer, moved, check) else moved


def _same_formula(a: BindingView, b: BindingView) -> bool:
    """Whether two bindings document the same formula (the common one, or the same own one): a peer whose docs
    give another formula (paddle's SmoothL1Loss is the Huber form) computes another thing, so what it gives is no
    opinion on a value no doc decides; on whether to raise it still has one."""
    return (a.formula.source if a.formula else None) == (b.formula.source if b.formula else None)


COUNTED_SECONDS = ("call_seconds", "restart_seconds", "waited_seconds", "reference_seconds")
"""The parts of a binding's seconds `TargetRunner.costs` counts whatever it was doing; a phase's own (shrinking,
locating: report.json's `shrink_seconds`, `locate_seconds`) is the rest of the phase's time."""

HEARD_ELEMENTS = 4096  # larger results are not kept: asked again if ever needed


@dataclass
class _Lane:
    """What the bindings of one lane heard (their own replies, and their peers' answers), and their peer guards."""

    heard: dict[tuple[str, str, str], dict[str, Any] | None] = field(default_factory=dict)  # (target, case, fields) -> reply
    guards: dict[str, _PeerGuard] = field(default_factory=dict)  # per peer target
    ids: int = 0  # of the peer requests sent


def _fields(extra: dict[str, Any]) -> str:
    return json.dumps(extra, sort_keys=True)


@dataclass
class _PeerGuard:
    """A peer call that crashed or hung is not sent again, and after HANG_LIMIT hangs (each costs a deadline) or
    CRASH_LIMIT crashes (each a fork) none of that binding's are: a peer is asked for its opinion, not tested (its
    own run reports its crashes). The crash limit is high: which questions a peer still answers must not depend
    on which bindings asked before in the same process (serial, `-n 2` and shards ask in other orders)."""

    HANG_LIMIT = 3
    CRASH_LIMIT = 50
    failed: set[str] = field(default_factory=set)
    hangs: int = 0

    def admit(self, request: dict[str, Any]) -> bool:
        return (self.hangs < self.HANG_LIMIT and len(self.failed) < self.CRASH_LIMIT
                and key(request) not in self.failed)

    def open(self) -> bool:
        return not self.failed and not self.hangs

    def observe(self, request: dict[str, Any], reply: dict[str, Any]) -> None:
        if reply.get("crash"):
            self.failed.add(key(request))
            self.hangs += reply.get("crash") == "timeout"


def build_request(binding: BindingView, case: Case, rid: int, extras: bool = True) -> dict[str, Any] | None:
    """The call, in the framework's names; None when the binding cannot express this case. Without `extras`, the
    framework-only arguments the spec passes (`extra:`) are left out: a naive port's call (run/forms.py)."""
    spec = binding.spec
    if case.variant and binding.variants is not None and case.variant not in binding.variants:
        return None
    args = []
    for name in spec.model.inputs:
        a = case.arrays.get(name)
        if binding.name_of(name) is None:
            return None
        args.append(None if a is None else wire.encode_array(a))
    params: dict[str, Any] = {}
    for name, value in case.params.items():
        if name in case.omit:
            continue
        fw_name = binding.name_of(name)
        if fw_name is None:
            if value != binding.defaults.get(name):
                return None
            continue
        params[fw_name] = wire.encode_scalar(value)
    for name, spec_param in spec.model.params.items():
        if isinstance(spec_param, ArraySpec) and name not in case.omit:
            a = case.arrays.get(name)
            fw_name = binding.name_of(name)
            if fw_name is None:
                if a is not None:
                    return None
                continue
            params[fw_name] = None if a is None else wire.encode_array(a)
    for name, expr in binding.extra.items() if extras else ():
        try:
            params[name] = expr.evaluate(case.env())
        except Exception:
            return None
    request: dict[str, Any] = {"op": "call", "id": rid, "target": binding.target, "kind": binding.kind, "args": args}
    request["init" if binding.kind == "class" else "kwargs"] = params
    if binding.model.output_index is not None:
        request["output"] = binding.model.output_index
    return request


def outcome_of(reply: dict[str, Any]) -> Outcome:
    value = wire.decode_array(reply["value"]) if reply.get("value") is not None else None
    if value is not None and reply["value"]["dtype"] == "bfloat16":
        from harness.spec.dtypes import BFLOAT16

        value = value.astype(BFLOAT16)
    return Outcome(value=value, dtype=reply.get("dtype"), error=reply.get("error"), crash=reply.get("crash"),
                   seconds=reply.get("seconds", 0.0), warnings=tuple(reply.get("warnings") or ()))


def judge(binding: BindingView, case: Case, outcome: Outcome, common: Reference | None,
          own: Reference | None) -> list[Verdict]:
    """The verdicts of one call: the first case check (in run order) that owns the case judges it."""
    ctx = CaseContext.build(binding, case, outcome, common, own)
    return registry.owner(ctx).judge(ctx)


class TargetRunner:
    """The pipeline of one binding: its checks in run order, then its findings grouped, shrunk and located.

    Checks reach the framework through `call` (cases -> outcomes) and `send` (requests with extra fields); `keyword`
    makes the spec's own request, which other forms of the call rewrite (run/forms.py)."""

    keyword = staticmethod(build_request)

    def __init__(self, run: SpecRun, binding: BindingView, pool: Pool, lane: str = "") -> None:
        self.spec_run, self.binding, self.pool = run, binding, pool
        self.lane = lane  # bindings run side by side each have workers and peer workers of their own (Pool.get, SpecRun.lane)
        self._ids = 0
        self.returned: set[str] = set()  # cases the binding returned a value for (gradients are taken of those)
        self.warned: list[tuple[Case, tuple[str, ...]]] = []  # first-pass cases whose call raised Python warnings
        self.raised: list[tuple[Case, str]] = []  # first-pass cases whose call raised (not crashed), with the error type
        self.replayed = [c for c in run.regressions if not c.targets or binding.target in c.targets]
        config = run.config
        self._restarts_before = self._restarts()
        self.budget = Budget(binding, config.crash_budget, config.crash_sample, config.restart_limit,
                             lambda: self._restarts() - self._restarts_before)
        self._checking: str | None = None  # the binding check sending calls (None: the case checks)
        self._worker: Worker | None = None  # where calls go instead of the shared worker (see `_isolated`)
        self._probe_worker: Worker | None = None
        self.agreed: Counter[str] = Counter()  # per check: discrepancies no doc decides that every peer shares
        self.unanswered: Counter[str] = Counter()  # per check: no doc decides and no peer could answer (no finding)

    def _restarts(self) -> int:
        ledger = self.pool.ledgers.get(self.binding.target)
        return ledger.restarts if ledger else 0

    def call(self, cases: list[Case], worker: Worker | None = None, build: Build = build_request,
             each: Callable[[int, Outcome], None] | None = None) -> list[Outcome | None]:
        """Each case's outcome (None where the binding cannot express the case); `build` makes its request (another
        form of the call: see run/forms.py); `each` is handed each outcome, with its case's index, as it comes."""
        outcomes: dict[int, Outcome] = {}

        def got(i: int, reply: dict[str, Any]) -> None:
            outcomes[i] = outcome_of(reply)
            if each is not None:
                each(i, outcomes[i])

        replies = self.send([(c, {}) for c in cases], worker, build, got)
        return [None if reply is None else outcomes[i] for i, reply in enumerate(replies)]  # every reply went through `got`

    def _isolated(self, judge: Callable[[list[Case]], list[Verdict]]) -> Callable[[list[Case]], list[Verdict]]:
        """`judge`, its calls sent to a worker process of this binding's own that only region probes use
        (started on first use, closed after locating): its results do not depend on the shared worker's history."""
        def run(cases: list[Case]) -> list[Verdict]:
            if self._probe_worker is None:
                try:
                    self._probe_worker = self.pool.fresh(self.binding.framework)
                except WorkerStartError:
                    return judge(cases)
            self._worker, before = self._probe_worker, self._worker
            try:
                return judge(cases)
            finally:
                self._worker = before
        return run

    def _close_isolated(self) -> None:
        if self._probe_worker is not None:
            self._probe_worker.close()
            self._probe_worker = None

    def send(self, items: list[tuple[Case, dict[str, Any]]], worker: Worker | None = None,
             build: Build = build_request,
             each: Callable[[int, dict[str, Any]], None] | None = None) -> list[dict[str, Any] | None]:
        """Each case's call, with extra request fields (e.g. a gradient's `op` and `wrt`), answered in one batch;
        `each` is handed each reply (but a call the budget did not send), with its item's index, as it comes."""
        requests, index = [], []
        for i, (case, extra) in enumerate(items):
            self._ids += 1
            req = build(self.binding, case, self._ids)
            if req is not None:
                requests.append({**req, **extra})
                index.append(i)
                self.budget.label(self._ids, self._checking, case)
        out: list[dict[str, Any] | None] = [None] * len(items)
        if requests:
            worker = worker or self._worker or self.pool.get(self.binding.framework, self.lane)

            def stands(k: int, reply: dict[str, Any]) -> None:
                if each is not None and not reply.get("skipped"):
                    each(index[k], reply)

            for i, reply in zip(index, worker.run(requests, self.budget, stands)):
                out[i] = None if reply.get("skipped") else reply  # not run: no verdict (the budget's notes say why)
                if out[i] is not None and build is build_request:  # peers reuse the spec's own call only
                    self.spec_run.heard(self.binding.target, items[i][0], items[i][1], reply, self.lane)
        return out

    def _call_fresh(self, cases: list[Case]) -> list[Outcome | None]:
        """The cases in a worker process of their own, started and closed here."""
        try:
            worker = self.pool.fresh(self.binding.framework)
        except WorkerStartError:
            return [None] * len(cases)
        try:
            return self.call(cases, worker)
        finally:
            worker.close()

    def _call_alone(self, cases: list[Case]) -> list[Outcome | None]:
        """Each case in a fresh process of its own, past the crash budget: a crash's rate (judge/stability.py)."""
        self.budget.rating = True
        try:
            return [self._call_fresh([case])[0] for case in cases]
        finally:
            self.budget.rating = False

    def judge_cases(self, cases: list[Case], recheck: bool = False) -> list[Verdict]:
        """The case checks' verdicts of `cases`, one call each (with `recheck`, re-run for stability)."""
        judged: list[stability.Judged] = []
        verdicts_of: dict[int, list[Verdict]] = {}

        def judge_one(i: int, outcome: Outcome) -> None:  # while the worker runs the next call
            case = cases[i]
            verdicts_of[i] = judge(self.binding, case, outcome, self.spec_run.reference(case),
                                   self.spec_run.reference(case, self.binding))

        self.budget.first_pass = recheck  # the binding's own pass over its cases: a region that keeps crashing is sampled
        try:
            outcomes = self.call(cases, each=judge_one)
        finally:
            self.budget.first_pass = False
        for i, (case, outcome) in enumerate(zip(cases, outcomes)):
            if outcome is None:
                continue
            if outcome.ok:
                self.returned.add(case.fingerprint())
            if outcome.warnings and recheck:
                self.warned.append((case, outcome.warnings))
            if recheck and outcome.error and not outcome.crash:
                self.raised.append((case, str(outcome.error.get("type"))))
            judged.append(stability.Judged(case, outcome, verdicts_of[i], judged[-1].case if judged else None))
        if recheck and self.spec_run.config.recheck:
            config = self.spec_run.config
            judged = stability.recheck(judged, self.call, self._call_fresh, config.recheck_sample, config.recheck_fresh,
                                       self._call_alone, _lead)
        return self.arbitrate([v for j in judged for v in j.verdicts])

    def arbitrate(self, verdicts: list[Verdict]) -> list[Verdict]:
        """Verdicts no doc decides, put to the peers (see judge/peers.py): a behaviour they share is a match,
        an outlier keeps its verdict with every framework's result beside it."""
        inputs = list(self.spec_run.spec.model.inputs)
        calls = []
        for v in verdicts:
            if v.silent and v.raw is not None and not v.peers and not v.is_match and v.case is not None:
                extra = registry.get(v.check).peer_call(v, inputs)
                if extra is not None:
                    calls.append((v, extra))
        others = self.spec_run.peers_of(self.binding, self.pool) if calls else []
        if not others:
            return verdicts  # no peer here: the reference decides
        # a peer's domain depends on the check (see `_outside`); on a dtype question it is asked in that dtype only
        for check, of_dtype in {(v.check, v.silent == peers.DTYPES) for v, _ in calls}:
            mine = [(v, extra) for v, extra in calls if v.check == check and (v.silent == peers.DTYPES) == of_dtype]
            answers = [self._ask(bindings, mine, check, cast=not of_dtype) for bindings in others]
            anyway = self._raise_anyway(mine, answers, check, cast=not of_dtype)
            for i, (v, _) in enumerate(mine):
                asked = [self._peer(v, *a[i], raises_anyway=(i, j) in anyway) for j, a in enumerate(answers)]
                shared, v.peers = peers.decide(v.raw, asked, v.silent)  # type: ignore[arg-type]
                if shared:
                    v.verdict = v.peer = v.doc = "match"
                    answered = any(entry["agrees"] is not None for entry in v.peers.values())
                    (self.agreed if answered else self.unanswered)[v.check] += 1
                else:
                    v.message = "; ".join(m for m in (v.message, peers.summary(v.peers)) if m)
        return verdicts

    def _ask(self, bindings: list[BindingView], mine: list[tuple[Verdict, dict[str, Any]]],
             check: str, cast: bool = True) -> list[tuple[BindingView, peers.Result | None]]:
        """Each call's answer from one framework: its first binding, then each next one for the calls still without."""
        got: list[tuple[BindingView, peers.Result | None]] = [(bindings[0], None)] * len(mine)
        for b in bindings:
            todo = [i for i, (_, r) in enumerate(got) if r is None]
            if not todo:
                break
            results = self.spec_run.ask(b, [(mine[i][0].case, mine[i][1]) for i in todo], self.pool, check,  # type: ignore[misc]
                                        cast, self.lane)
            for i, r in zip(todo, results):
                if r is not None:
                    got[i] = (b, r)
        return got

    def _raise_anyway(self, mine: list[tuple[Verdict, dict[str, Any]]],
                      answers: list[list[tuple[BindingView, peers.Result | None]]], check: str,
                      cast: bool) -> set[tuple[int, int]]:
        """(call, peer) pairs where the binding computed a shape probe, the peer raised, and the peer raises on the
        probe's valid form too (`generate.valid_form`): its error is about another thing than the one asked."""
        out: set[tuple[int, int]] = set()
        for j, got in enumerate(answers):
            todo: dict[str, list[tuple[int, Case, dict[str, Any]]]] = {}
            bindings: dict[str, BindingView] = {}
            for i, (v, extra) in enumerate(mine):
                b, r = got[i]
                if (v.silent != peers.RAISE or v.raw is None or v.raw.kind == "error" or r is None or r.kind != "error"
                        or v.case is None):
                    continue
                valid = generate.valid_form(v.case)
                if valid is not None:
                    todo.setdefault(b.target, []).append((i, valid, extra))
                    bindings[b.target] = b
            for target, items in todo.items():
                again = self.spec_run.ask(bindings[target], [(c, e) for _, c, e in items], self.pool, check, cast, self.lane)
                out |= {(i, j) for (i, _, _), r in zip(items, again) if r is not None and r.kind == "error"}
        return out

    def _peer(self, v: Verdict, peer: BindingView, result: peers.Result | None,
              raises_anyway: bool = False) -> peers.Peer:
        """A peer's answer to `v`'s call, counted, or shown as no opinion: on a value no doc decides when its docs
        give another formula, where the check says its answer is none (a gradient it does not take), or where it
        raises on the valid form of a shape probe too."""
        if result is not None and (raises_anyway or (v.silent != peers.RAISE and not _same_formula(peer, self.binding))
                                   or registry.get(v.check).no_opinion(v, result)):
            return peers.Peer(peer.framework, peer.target, None, result)
        return peers.Peer(peer.framework, peer.target, result)

    def execute(self) -> TargetResult:
        started = time.perf_counter()
        before = self.costs()
        result = TargetResult(self.binding)
        verdicts: list[Verdict] = []
        cases_judged = False
        for check in registry.in_run_order():
            check_started = time.perf_counter()
            got: list[Verdict] = []
            if isinstance(check, CaseCheck):  # the case checks share one call per case, judged by the owning check
                if not cases_judged:
                    got = self.judge_cases(self.spec_run.cases + self.replayed, recheck=True)
                    cases_judged = True
            elif isinstance(check, BindingCheck):
                with self._sending(check.name):
                    got = self.arbitrate(check.verdicts(self))
                note = None if got else check.empty_note(self)
                if note:
                    result.notes[check.name] = note
            verdicts += got
            _add_time(result, check.name, check_started)
        result.calls = self._ids
        verdicts = explained_by_dtype(verdicts)
        for v in verdicts:
            result.counts.setdefault(v.check, {}).setdefault(v.verdict, 0)
            result.counts[v.check][v.verdict] += 1
        findings = group(verdicts)
        phases: dict[str, float] = {}
        with self._phase(phases, "shrink_seconds"):
            for finding in findings:
                self._shrink(finding)
        # a finding's region is probed with the check that found it (ids differ by check, so the two never merge)
        try:
            with self._phase(phases, "locate_seconds"):
                located = locate(findings, self.spec_run.spec, lambda f: self._prober(f.head.check, result), self._isolated)
        finally:
            self._close_isolated()
        result.findings = sorted(located, key=lambda f: (f.head.check, f.head.verdict, f.id))
        note = self.budget.notes()
        if note:
            result.notes["budget"] = note
        said = [f"{n} {check} discrepancies no doc decides are shared by its peers" for check, n in sorted(self.agreed.items())]
        said += [f"{n} {check} discrepancies from the reference no doc decides and no peer could answer"
                 for check, n in sorted(self.unanswered.items())]
        if said:
            result.notes["peers"] = "; ".join(said) + " (no finding)"
        result.seconds = time.perf_counter() - started
        result.costs = {k: round(v - before[k], 3) for k, v in self.costs().items()} | {
            k: round(v, 3) for k, v in phases.items()}
        return result

    @contextmanager
    def _phase(self, phases: dict[str, float], name: str) -> Iterator[None]:
        """The harness's own seconds in a phase of `execute` (its wall time less what `costs` already counts there:
        calls, restarts, deadlines, references): where `seconds` goes beyond them, phase by phase."""
        before, started = self.costs(), time.perf_counter()
        try:
            yield
        finally:
            after = self.costs()
            counted = sum(float(after[k]) - float(before[k]) for k in COUNTED_SECONDS)
            phases[name] = phases.get(name, 0.0) + max(0.0, time.perf_counter() - started - counted)

    def costs(self) -> dict[str, float | int]:
        """Running totals of where a binding's time goes: its calls inside the worker, worker restarts,
        waiting on deadlines that expired, and references (COUNTED_SECONDS; `_phase` splits the rest of shrinking and
        locating off, what remains is judging and the pipe). Differences of two readings are one binding's share."""
        ledger = self.pool.ledgers.get(self.binding.target)
        figures = ledger.figures() if ledger else Ledger().figures()
        return {**figures, "reference_seconds": self.spec_run.reference_seconds()}

    @contextmanager
    def _sending(self, check: str | None) -> Iterator[None]:
        """Calls sent meanwhile are that binding check's (None: the case checks'), for the crash budget's regions."""
        self._checking = check
        try:
            yield
        finally:
            self._checking = None

    def _prober(self, name: str, result: TargetResult) -> Callable[[list[Case]], list[Verdict]] | None:
        """The check's own way to judge moved cases, timed as part of that check."""
        check = registry.get(name)
        judge_moved = check.prober(self)
        if judge_moved is None:
            return None
        sender = name if isinstance(check, BindingCheck) else None

        def timed(cases: list[Case]) -> list[Verdict]:
            probe_started = time.perf_counter()
            try:
                with self._sending(sender):
                    got = judge_moved(cases)
                    return self.arbitrate(got) if sender else got  # a case check's are, in judge_cases
            finally:
                _add_time(result, name, probe_started)
        return timed

    def _shrink(self, finding: Finding) -> None:
        head = finding.head
        check = registry.get(head.check)
        # gradient cases are small by construction (GRAD_ELEMENTS): their smallest member is the minimal case
        if (head.case is None or head.case.regression or not (isinstance(check, CaseCheck) and check.shrunk)
                or head.verdict in stability.NOT_CHASED):
            return  # a replayed case was shrunk when it was accepted
        if head.case.origin == "invalid":
            return  # a probe's case is a drawn case with one thing broken, and few draws meet the same probe: its
            #         smallest member stands (a search over every probe's cases cost seconds per finding, in vain)
        spec = self.spec_run.spec
        strategy = generate.all_cases(spec) if check.shrink_space() == "all" else generate.valid_cases(spec)
        found: dict[str, Verdict] = {}
        want = (head.check, head.verdict, head.subject, head.documented, head.why, partition(head))

        def holds(case: Case) -> bool:
            if not _may_reproduce(head, case):
                return False  # decided without a framework call: most draws of a search end here
            for v in self.judge_cases([case]):
                if (v.check, v.verdict, v.subject, v.documented, v.why, partition(v)) == want:
                    found[case.fingerprint()] = v
                    return True
            return False

        case = generate.shrink(strategy, holds, CORE_SEED, self.spec_run.config.shrink_budget)
        if case is not None and case.fingerprint() in found and case.size <= (head.case.size if head.case else 0):
            finding.minimal, finding.shrunk = found[case.fingerprint()], True


def _lead(v: Verdict) -> tuple[Hashable, Any]:
    """A verdict's finding region and its rank there (findings.group's leading member is the least)."""
    return (v.check, tuple(sorted(partition(v).items()))), leading(v)


def _add_time(result: TargetResult, check: str, since: float) -> None:
    result.check_seconds[check] = result.check_seconds.get(check, 0.0) + time.perf_counter() - since


def _may_reproduce(head: Verdict, case: Case) -> bool:
    """False when `case` cannot give `head`'s verdict whatever the framework does: another partition, or
    a case its check would not judge that way (see the check's `could_show`)."""
    if partition_of(head.check, features(case)) != partition(head):
        return False
    return registry.get(head.check).could_show(head, case)
