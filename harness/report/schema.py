"""The shape of report.json (and of the part files it is merged from) as types.

Why: results.py writes these dicts and the HTML page, the gate, the baselines and the command line
read them; one set of TypedDicts lets a type checker hold the two sides to the same keys.
Typing only: at run time they are the plain dicts json reads and writes. `reports/report.schema.json`
describes the same layout to tools outside Python. Fields holding free-form JSON (a case, a value,
a reproducer, what tables.api_json shows of a spec) stay `Any`.
"""
from __future__ import annotations

from typing import Any, NotRequired, TypedDict

# What the report shows of one spec (tables.api_json): formula, inputs, params, per framework its bindings.
ApiEntry = dict[str, Any]


class SpecPlace(TypedDict):
    """A place in a spec file (`line` is None when the YAML path has no line)."""

    file: str
    line: int | None


class SpecErrorEntry(TypedDict):
    """A spec that did not load: a harness error for the gate."""

    file: str
    line: int | None
    message: str
    fix: str


class MissingEntry(TypedDict):
    """A framework the spec declares to have no counterpart of the API (`missing:`)."""

    api: str
    title: str
    framework: str
    source: str
    note: str | None
    spec: SpecPlace


class DiagnosisEntry(TypedDict):
    """What the head verdict measured, explained by the first hypothesis that held (judge.diagnose)."""

    rule: str  # the hypothesis, free of drawn numbers ("param-float32:beta", "measured:nan"): part of a cause's key
    text: str


# `class` is a Python keyword: the key is declared in the functional form and inherited.
_Classed = TypedDict("_Classed", {"class": NotRequired[str]})  # a finding's class (judge.classes); absent in old reports


class FindingEntry(_Classed):
    """One finding: discrepancies of one binding grouped by check, verdict and region."""

    id: str  # hash of api, target, check, subject and region: stable across seeds
    api: str
    framework: str
    target: str
    kind: str  # class | function
    check: str
    subject: NotRequired[str]  # what a case-less or checked-in finding is about (a parameter, an example, an input)
    verdict: str
    peer_verdict: str  # against the common spec
    doc_verdict: str  # against the binding's own documentation
    documented: bool
    source: str | None  # the documentation that predicts it
    why: str
    region: dict[str, list[str]]  # case feature -> the values the finding's cases share
    unstable: dict[str, list[str]]  # case feature -> values where repeated probes disagreed (not in the id)
    count: int
    explored: bool  # found only by this seed's explored cases
    shrunk: bool
    case: dict[str, Any] | None  # the minimal case, described (Case.describe)
    replay: dict[str, Any] | None  # the case losslessly, in the cases/ file format
    expected: Any
    actual: Any
    message: str
    metrics: dict[str, Any]
    spec: SpecPlace
    repro: dict[str, Any] | None  # what a reproducer script needs (scripts.capture)
    diagnosis: NotRequired[DiagnosisEntry]
    silent: NotRequired[str]  # why no doc decides it (then its peers do)
    peers: NotRequired[dict[str, Any]]  # framework -> its result on the same call, when peers arbitrated


_CauseClass = TypedDict("_CauseClass", {"class": str})


class CauseEntry(_CauseClass):
    """Findings that share one behaviour (judge.causes): what a maintainer fixes once."""

    id: str  # hash of api, frameworks, check, class, diagnosis rule and documentation status
    severity: int  # 0 is the most severe class
    api: str
    frameworks: list[str]
    check: str
    rule: str
    diagnosis: str  # the lead finding's diagnosis
    documented: bool
    explored: bool  # every finding it covers was found only by this seed's explored cases
    findings: list[str]  # ids of its findings
    explains: list[str]  # ids of gradient findings its values behaviour explains
    targets: list[str]
    cases: int
    lead: str  # the finding that shows it best
    repro: str | None  # the lead's reproducer script, relative to the report


class _TargetFields(TypedDict):
    api: str
    title: str
    framework: str
    target: str
    kind: str
    counts: dict[str, dict[str, int]]  # check -> verdict -> verdicts
    calls: int
    seconds: float
    error: str | None  # the binding could not run at all: a harness error for the gate
    notes: dict[str, str]  # check -> why it has no cases
    gradient_seconds: float
    spec: str  # the spec file


class TargetCosts(TypedDict, total=False):
    """Where a binding's `seconds` went (timing: varies run to run, ignored when reports are compared)."""

    calls: int  # calls its workers answered (re-runs, probes and shrinking included)
    call_seconds: float  # their time inside the worker: the framework's own share
    restarts: int  # worker processes replaced (a crash, a hang)
    restart_seconds: float  # waiting for a replacement to be ready
    timeouts: int  # deadlines that expired (a batch, or a call alone)
    waited_seconds: float  # waiting on those deadlines
    reference_seconds: float  # evaluating references
    shrink_seconds: float  # shrinking findings, beyond the calls, restarts, deadlines and references counted above
    locate_seconds: float  # probing findings' regions, likewise
    check_seconds: dict[str, float]  # per check: its calls, judging and probes


class TargetEntry(_TargetFields, total=False):
    """One binding that ran, in report.json's `targets`."""

    costs: TargetCosts

    plots: list[dict[str, Any]]  # per plot of the spec, this binding's measured panels


class PartTarget(TargetEntry):
    """A binding in a part file: its findings still with it (the merge lists them apart)."""

    findings: list[FindingEntry]


class BranchEntry(TypedDict):
    line: int
    condition: str
    reached: dict[str, int]  # side (true, false, equal) -> cases that reached it
    untested: list[str]


class DomainEntry(TypedDict):
    what: str
    reached: dict[str, int]
    untested: list[str]


class RaiseCoverage(TypedDict):
    owner: str  # common, a framework or a target
    when: str
    error: str
    cases: int


class _CoverageFields(TypedDict):
    cases: int
    valid: int
    evaluated: int
    branches: list[BranchEntry]
    domain: list[DomainEntry]
    raises: list[RaiseCoverage]
    reached: int
    total: int


class CoverageEntry(_CoverageFields, total=False):
    """What one spec's cases reached (judge.coverage.of)."""

    gradients: dict[str, Any]  # gradient cases, non-finite ones, kinks per input; or `skipped`: why
    pairs: dict[str, Any]  # pairs of categorical features: demanded, reached, missed (names) (cases/pairwise.py)


class Counts(TypedDict):
    targets: int
    cases: int
    findings: int
    documented: int
    undocumented: int


class CoverageTotal(TypedDict):
    reached: int
    total: int


class Summary(Counts, total=False):
    coverage: CoverageTotal
    causes: int
    classes: dict[str, int]  # class -> undocumented findings


class RunMeta(TypedDict, total=False):
    """Facts of the run, at the top of report.json (a part carries its process's share in `meta`)."""

    seed: int | None  # None only where merged reports did not say
    max_examples: int | None
    command: str
    shard: str  # I/N of a sharded run
    started: float
    seconds: float
    missing_frameworks: list[str]


class PartMeta(RunMeta, total=False):
    finished: bool  # absent: the process was killed or interrupted before its end


class Report(RunMeta):
    """report.json: one run (or several merged), every finding and what each spec's cases reached."""

    schema: str
    incomplete: bool  # some process of the run never finished: a harness error for the gate
    frameworks: dict[str, str]  # name -> version that ran
    spec_errors: list[SpecErrorEntry]
    missing: list[MissingEntry]
    apis: dict[str, ApiEntry]
    targets: list[TargetEntry]
    findings: list[FindingEntry]
    causes: list[CauseEntry]  # the findings grouped by what causes them, most severe first
    coverage: dict[str, CoverageEntry]
    summary: Summary


class _PartFields(TypedDict):
    frameworks: dict[str, str]
    targets: list[PartTarget]
    spec_errors: list[SpecErrorEntry]
    missing: list[MissingEntry]
    apis: dict[str, ApiEntry]
    coverage: dict[str, CoverageEntry]


class Part(_PartFields, total=False):
    """A part file: one process's finished bindings (or a whole report read back by `as_part`)."""

    meta: PartMeta
