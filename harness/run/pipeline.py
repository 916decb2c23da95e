"""Running one spec against one binding: cases -> calls -> verdicts -> findings (shrunk)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from harness.cases import generate
from harness.judge import stability
from harness.run import wire
from harness.checks.gradients import GradientCheck
from harness.cases.case import Case, Outcome
from harness.cases.examples import load_examples
from harness.judge.findings import PARTITION, Finding, features, group, identify, partition
from harness.judge.verdicts import Verdict, explain, judge, matching_rules, signature_verdict, unsupported_dtypes
from harness.judge.reference import Reference, evaluate
from harness.judge.region import locate
from harness.spec.model import ArraySpec, BindingView, Spec
from harness.run.pool import Pool, Worker, WorkerStartError


CORE_SEED = 0x5EED  # the core cases every run draws, whatever its seed


@dataclass
class Config:
    """`max_examples` cases per spec: two thirds from the fixed core, the rest explored with `seed`.

    Why the split: the gate must not depend on the seed (the core and the replayed regression cases
    decide it), while each seed still explores new cases whose findings are reported as explored.
    """

    seed: int = 20261121
    max_examples: int = 150
    shrink_budget: int = 120  # examples per shrink; a count, not a time, so reports repeat exactly
    cases_dir: Optional[Path] = None
    recheck_sample: int = 8  # re-run every case with a discrepancy and every n-th other one (0: discrepancies only)
    recheck_fresh: int = 32  # of those with a discrepancy, at most this many again in a fresh process
    recheck: bool = True  # re-runs that turn a result that changes into a `nondeterministic` verdict

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
    error: Optional[str] = None  # the binding could not be run at all
    notes: dict[str, str] = field(default_factory=dict)  # check -> why it has no cases
    gradient_seconds: float = 0.0  # of `seconds`: the gradients check (cases, references, framework calls, probes)


class SpecRun:
    """The cases of one spec (drawn once per process) and their references."""

    def __init__(self, spec: Spec, config: Config) -> None:
        self.spec, self.config = spec, config
        bulk = generate.all_cases(spec, elementwise=0)  # values from numpy: see generate.valid_cases
        core = generate.draw(bulk, config.core_examples, CORE_SEED)
        seen = {c.fingerprint() for c in core}
        explored = [c.with_(explored=True) for c in generate.draw(bulk, config.explore_examples, config.seed)
                    if c.fingerprint() not in seen]
        self.cases = core + explored
        checked_in = load_examples(config.cases_dir, spec) if config.cases_dir else []
        self.examples = [c for c in checked_in if not c.regression]
        self.regressions = [c for c in checked_in if c.regression]  # replayed every run: see harness/replay.py
        self._refs: dict[tuple[str, str], Reference] = {}
        self.gradients = GradientCheck(spec, self.cases)

    def reference(self, case: Case, binding: Optional[BindingView] = None) -> Optional[Reference]:
        """The common reference, or with `binding` that binding's own documented formula (if any)."""
        formula = self.spec.formula if binding is None else binding.formula
        if formula is None:
            return None
        key = (case.fingerprint(), "" if binding is None else binding.target)
        if key not in self._refs:
            self._refs[key] = evaluate(formula, case)
        return self._refs[key]


def build_request(binding: BindingView, case: Case, rid: int) -> Optional[dict[str, Any]]:
    """The call, in the framework's names; None when the binding cannot express this case."""
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
        params[fw_name] = value
    for name, spec_param in spec.model.params.items():
        if isinstance(spec_param, ArraySpec) and name not in case.omit:
            a = case.arrays.get(name)
            fw_name = binding.name_of(name)
            if fw_name is None:
                if a is not None:
                    return None
                continue
            params[fw_name] = None if a is None else wire.encode_array(a)
    for name, expr in binding.extra.items():
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
                   seconds=reply.get("seconds", 0.0))


class TargetRunner:
    def __init__(self, run: SpecRun, binding: BindingView, pool: Pool) -> None:
        self.run, self.binding, self.pool = run, binding, pool
        self._ids = 0
        self.returned: set[str] = set()  # cases the binding returned a value for (gradients are taken of those)

    def _call(self, cases: list[Case], worker: Optional[Worker] = None) -> list[Optional[Outcome]]:
        requests, index = [], []
        for i, case in enumerate(cases):
            self._ids += 1
            req = build_request(self.binding, case, self._ids)
            if req is not None:
                requests.append(req)
                index.append(i)
        out: list[Optional[Outcome]] = [None] * len(cases)
        if requests:
            worker = worker or self.pool.get(self.binding.framework)
            for i, reply in zip(index, worker.run(requests)):
                out[i] = outcome_of(reply)
        return out

    def _call_fresh(self, cases: list[Case]) -> list[Optional[Outcome]]:
        """The cases in a worker process of their own, started and closed here."""
        try:
            worker = self.pool.fresh(self.binding.framework)
        except WorkerStartError:
            return [None] * len(cases)
        try:
            return self._call(cases, worker)
        finally:
            worker.close()

    def judge_cases(self, cases: list[Case], recheck: bool = False) -> list[Verdict]:
        judged: list[stability.Judged] = []
        for case, outcome in zip(cases, self._call(cases)):
            if outcome is None:
                continue
            if outcome.ok:
                self.returned.add(case.fingerprint())
            common = self.run.reference(case)
            own = self.run.reference(case, self.binding)
            verdicts = judge(self.binding, case, outcome, common, own)  # type: ignore[arg-type]
            judged.append(stability.Judged(case, outcome, verdicts, judged[-1].case if judged else None))
        if recheck and self.run.config.recheck:
            config = self.run.config
            judged = stability.recheck(judged, self._call, self._call_fresh, config.recheck_sample, config.recheck_fresh)
        return [v for j in judged for v in j.verdicts]

    def judge_gradients(self, cases: list[Case]) -> list[Verdict]:
        return self.run.gradients.verdicts(self.binding, cases, self._send_gradients)

    def _judge_gradient_probes(self, cases: list[Case]) -> list[Verdict]:
        return self.judge_gradients([c for c in cases if self.run.gradients.eligible(c)])

    def _send_gradients(self, pairs: list[tuple[Case, list[str]]]) -> list[Optional[dict[str, Any]]]:
        inputs = list(self.run.spec.model.inputs)
        requests, index = [], []
        for i, (case, names) in enumerate(pairs):
            self._ids += 1
            req = build_request(self.binding, case, self._ids)
            if req is not None:
                requests.append({**req, "op": "grad", "wrt": [inputs.index(n) for n in names]})
                index.append(i)
        out: list[Optional[dict[str, Any]]] = [None] * len(pairs)
        if requests:
            for i, reply in zip(index, self.pool.get(self.binding.framework).run(requests)):
                out[i] = reply
        return out

    def execute(self) -> TargetResult:
        started = time.perf_counter()
        result = TargetResult(self.binding)
        b = self.binding
        worker = self.pool.get(b.framework)
        sig = worker.run([{"op": "signature", "id": 0, "target": b.target, "kind": b.kind}])[0]
        verdicts: list[Verdict] = []
        if sig.get("error") or sig.get("crash"):
            err = sig.get("error") or {}
            v = Verdict(b, None, "signature", "unexpected-error", "unexpected-error", "unexpected-error",
                        message=f"{err.get('type')}: {err.get('message')}")
            verdicts.append(v)
        else:
            verdicts.append(signature_verdict(b, sig))
        replayed = [c for c in self.run.regressions if not c.targets or b.target in c.targets]
        verdicts += self.judge_cases(self.run.cases + replayed, recheck=True)
        grad_started = time.perf_counter()
        grads = self.judge_gradients([c for c in self.run.gradients.cases + [r for r in replayed if self.run.gradients.eligible(r)]
                                      if c.fingerprint() in self.returned])
        result.gradient_seconds = time.perf_counter() - grad_started
        if not grads:
            result.notes["gradients"] = self.run.gradients.empty_reason()
        verdicts += grads
        verdicts += self._defaults()
        verdicts += self._examples()
        result.calls = self._ids
        for v in verdicts:
            result.counts.setdefault(v.check, {}).setdefault(v.verdict, 0)
            result.counts[v.check][v.verdict] += 1
        findings = group(verdicts)
        for finding in findings:
            self._shrink(finding)
        # a finding's region is probed with the check that found it (ids differ by check, so the two never merge);
        # a gradient crash or hang is not probed: each probe could cost a worker or a full timeout
        grads = [f for f in findings if f.head.check == "gradients"]
        located = locate([f for f in findings if f.head.check != "gradients"], self.run.spec, self.judge_cases)
        probe_started = time.perf_counter()
        located += locate([f for f in grads if f.head.verdict not in ("crash", "timeout")], self.run.spec, self._judge_gradient_probes)
        result.gradient_seconds += time.perf_counter() - probe_started
        located += identify([f for f in grads if f.head.verdict in ("crash", "timeout")])
        result.findings = sorted(located, key=lambda f: (f.head.check, f.head.verdict, f.id))
        result.seconds = time.perf_counter() - started
        return result

    def _defaults(self) -> list[Verdict]:
        """Omitting a parameter behaves like passing its documented default; and that default vs the common one."""
        spec, b = self.run.spec, self.binding
        verdicts: list[Verdict] = []
        valid = [c for c in self.run.cases if c.origin == "generated" and not c.explored and not unsupported_dtypes(b, c)
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
            for case in valid[:6]:
                if isinstance(param, ArraySpec):
                    if default is not None:
                        continue
                    explicit.append(case.with_(arrays={**case.arrays, name: None}))
                    omitted.append(case.with_(arrays={**case.arrays, name: None}, omit=case.omit + (name,)))
                else:
                    explicit.append(case.with_(params={**case.params, name: default}))
                    omitted.append(case.with_(params={**case.params, name: default}, omit=case.omit + (name,)))
            for e_case, o_case, e_out, o_out in zip(explicit, omitted, self._call(explicit), self._call(omitted)):
                if e_out is None or o_out is None:
                    continue
                same = _same_outcome(e_out, o_out)
                verdict = "match" if same else ("value" if e_out.ok and o_out.ok else "unexpected-error")
                verdicts.append(Verdict(b, o_case, "defaults", verdict, "match", verdict, subject=name,
                                        message="" if same else f"omitting {name} differs from passing its documented default {default!r}",
                                        expected={"explicit": _brief(e_out)}, actual={"omitted": _brief(o_out)}))
        return verdicts

    def _examples(self) -> list[Verdict]:
        from harness.cases.examples import judge_example

        cases = [c for c in self.run.examples if not c.targets or self.binding.target in c.targets]
        return [judge_example(self.binding, c, o) for c, o in zip(cases, self._call(cases)) if o is not None]

    def _shrink(self, finding: Finding) -> None:
        head = finding.head
        # gradient cases are small by construction (GRAD_ELEMENTS): their smallest member is the minimal case
        if (head.case is None or head.case.regression or head.check in ("examples", "defaults", "gradients")
                or head.verdict in stability.NOT_CHASED):
            return  # a replayed case was shrunk when it was accepted
        strategy = generate.all_cases(self.run.spec) if head.check == "raises" else generate.valid_cases(self.run.spec)
        found: dict[str, Verdict] = {}
        want = (head.check, head.verdict, head.documented, head.why, partition(head))

        def holds(case: Case) -> bool:
            if not _may_reproduce(head, case):
                return False  # decided without a framework call: most draws of a search end here
            for v in self.judge_cases([case]):
                if (v.check, v.verdict, v.documented, v.why, partition(v)) == want:
                    found[case.fingerprint()] = v
                    return True
            return False

        case = generate.shrink(strategy, holds, CORE_SEED, self.run.config.shrink_budget)
        if case is not None and case.fingerprint() in found and case.size <= (head.case.size if head.case else 0):
            finding.minimal, finding.shrunk = found[case.fingerprint()], True


def _may_reproduce(head: Verdict, case: Case) -> bool:
    """False when `case` cannot give `head`'s verdict whatever the framework does (see `judge`)."""
    found = features(case)
    if {k: found[k] for k in PARTITION.get(head.check, ("variant",)) if k in found} != partition(head):
        return False
    dtype_check = head.check == "dtypes" and head.verdict != "dtype"  # an undocumented dtype was passed
    if dtype_check != bool(unsupported_dtypes(head.binding, case)):
        return False
    return not (case.origin == "invalid" and (head.check == "values" or head.verdict == "dtype"))


def _same_outcome(a: Outcome, b: Outcome) -> bool:
    from harness.judge.compare import same_result

    if a.ok and b.ok:
        return a.dtype == b.dtype and same_result(a.value, b.value)  # type: ignore[arg-type]
    return (a.error or {}).get("type") == (b.error or {}).get("type") and a.crash == b.crash


def _brief(o: Outcome) -> Any:
    from harness.cases.case import describe_array

    return {"value": describe_array(o.value), "dtype": o.dtype} if o.ok else {"error": (o.error or {}).get("type"),
                                                                            "message": (o.error or {}).get("message", "")[:500]}
