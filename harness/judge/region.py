"""Where a finding holds, found by moving its minimal case along each categorical axis.

Why: a baseline keys findings by id, and an id must name the discrepancy, not the sample that
revealed it. Which features the drawn cases happened to share depends on the seed; the values of
each axis (every enum value, every documented dtype) at which the minimal case still shows the
same discrepancy do not, or much less so. An axis on which it holds everywhere is left out.
"""
from __future__ import annotations

from collections.abc import Callable

from harness.cases.case import Case
from harness.cases.generate import array_specs, scalar_params
from harness.judge.findings import Finding, features, identify, partition
from harness.judge.peers import CONVENTIONS
from harness.judge.stability import NOT_CHASED
from harness.judge.verdicts import Verdict
from harness.spec import dtypes
from harness.spec.model import Spec


def axes(spec: Spec, case: Case) -> list[tuple[str, list[Case]]]:
    """(feature, the case moved to each value of that axis) for every categorical axis of the case."""
    out: list[tuple[str, list[Case]]] = []
    for name, p in scalar_params(spec).items():
        values = p.enum if p.enum is not None else ([False, True] if p.type == "bool" else None)
        if values is None or name in case.omit or name not in case.params:
            continue
        out.append((name, [case.with_(params={**case.params, name: v}) for v in values]))
    specs = array_specs(spec, case.variant)
    for name, a in specs.items():
        if not isinstance(a.dtypes, list) or case.arrays.get(name) is None:
            continue
        linked = [n for n in specs if _root(specs, n) == name and case.arrays.get(n) is not None]
        moved = []
        for dt in a.dtypes:
            arrays = dict(case.arrays)
            for n in linked:
                arrays[n] = dtypes.cast(dtypes.to_float64(case.arrays[n]), dt)
            moved.append(case.with_(arrays=arrays))
        out.append((f"dtype({name})", moved))
    return out


def _root(specs: dict, name: str) -> str:
    ref = specs[name].dtypes
    return _root(specs, ref.split(" ", 1)[1]) if isinstance(ref, str) and ref.split(" ", 1)[1] in specs else name


Judge = Callable[[list[Case]], list[Verdict]]


def locate(findings: list[Finding], spec: Spec, prober: Callable[[Finding], Judge | None],
           isolated: Callable[[Judge], Judge] | None = None) -> list[Finding]:
    """Probe every finding's region with the judge `prober` gives for it (None: its check is not probed),
    then give ids (findings that turn out the same are merged).

    Each probe runs twice: in the binding's worker, and (through `isolated`) in a process of its own with
    no history. An axis value counts only where both runs agree: a framework whose results vary from run
    to run, or with what its process ran before (MindSpore's uninitialised memory), must not move an id.
    A value the two runs disagree on is `unstable`: left out of the id, shown in the report."""
    for f in findings:
        head = f.head
        if head.case is None or head.verdict in NOT_CHASED:
            continue
        if head.documented and head.case.origin == "invalid":
            continue  # a probe its docs predict the outcome of (a dtype they do not list): no claim to locate
        if partition(head).get("elements"):
            continue  # a reduction over nothing, its check's own partition: what moving it shows is memory, not a region
        judge_cases = prober(f)
        if judge_cases is None:
            continue
        _try_finite_twin(head, judge_cases)
        probes = axes(spec, head.case)
        flat = [c for _, moved in probes for c in moved]
        held = _holding(head, flat, judge_cases)
        again = _holding(head, flat, isolated(judge_cases) if isolated else judge_cases)
        i = 0
        for feature, moved in probes:
            own = features(head.case).get(feature)
            values = [features(c).get(feature, "-") for c in moved]
            first, second = held[i:i + len(moved)], again[i:i + len(moved)]
            i += len(moved)
            mine = {own} if own else set()
            stable = {v for v, a, b in zip(values, first, second) if a and b} | mine
            varied = {v for v, a, b in zip(values, first, second) if a != b} - mine
            if varied:
                f.unstable[feature] = sorted(varied)
            if stable | varied != set(values) | mine:  # some value shows no discrepancy in either run
                f.region[feature] = sorted(stable)
    return identify(findings)


def _try_finite_twin(head: Verdict, judge_cases: Judge) -> None:
    """A discrepancy on non-finite input is a convention (no doc decides) only if it is not there without the nan
    and inf: where the finite twin shows the same verdict, undocumented and not a convention, neither is the head."""
    twin = head.case.finite_twin() if head.case is not None and head.silent in CONVENTIONS else None
    if twin is None:
        return
    same = [v for v in judge_cases([twin]) if (v.check, v.subject, v.verdict) == (head.check, head.subject, head.verdict)
            and v.silent not in CONVENTIONS and not v.documented]
    if same:
        head.silent = same[0].silent  # a gradient stays arbitrated by its peers; a value is the docs' to decide
        head.finite_twin = same[0]


def _holding(head: Verdict, cases: list[Case], judge_cases: Callable[[list[Case]], list[Verdict]]) -> list[bool]:
    """For each case: does it show the head's discrepancy (same check, verdict, subject, documentation, partition)?"""
    want = (head.check, head.verdict, head.subject, head.documented, partition(head))
    verdicts = judge_cases(cases)
    by_case: dict[str, list[Verdict]] = {}
    for v in verdicts:
        if v.case is not None:
            by_case.setdefault(v.case.fingerprint(), []).append(v)
    return [any((v.check, v.verdict, v.subject, v.documented, partition(v)) == want for v in by_case.get(c.fingerprint(), []))
            for c in cases]

