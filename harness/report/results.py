"""Results as data: a target's verdicts and findings in JSON form, written part by part.

Each process (a plain pytest run or an xdist worker) writes its own part file after every
binding it finishes, atomically, so a killed run still leaves every finished binding readable.
The parts merge into `report.json`, whose layout `report.schema.json` documents.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

from harness.cases.case import jsonable, replayable
from harness.checks import registry
from harness.checks.base import CaseCheck
from harness.files import write_atomic
from harness.judge import causes
from harness.judge.classes import CLASSES, classify
from harness.judge.diagnose import diagnose
from harness.judge.findings import Finding
from harness.judge.verdicts import Verdict
from harness.report.schema import (
    ApiEntry,
    CauseEntry,
    Counts,
    CoverageEntry,
    FindingEntry,
    MissingEntry,
    Part,
    PartMeta,
    PartTarget,
    Report,
    RunMeta,
    SpecErrorEntry,
    TargetCosts,
    TargetEntry,
)
from harness.report.scripts import capture
from harness.run.pipeline import TargetResult
from harness.spec.model import Spec
from harness.spec.source import SourceError

SCHEMA = "harness-report/1"
TIMING_KEYS = ("seconds", "started", "finished", "calls_per_second", "gradient_seconds", "costs")  # the only fields that vary run to run


def _relative(path: Path) -> str:
    """Paths in reports relative to the project, so reports from two checkouts compare equal."""
    try:
        return str(Path(path).resolve().relative_to(Path(__file__).resolve().parents[2]))
    except ValueError:
        return str(path)


def finding_json(spec: Spec, finding: Finding) -> FindingEntry:
    """A finding with its class and diagnosis (computed here, from its head verdict: after every judgement of the
    binding, peer arbitration included)."""
    v = finding.head
    b = v.binding
    d = diagnose(v)
    return jsonable({
        "class": classify(v.verdict, v.check, v.silent, d.implies),
        "diagnosis": {"rule": d.rule, "text": d.text},
        **({"silent": v.silent} if v.silent else {}),
        **({"peers": v.peers} if v.peers else {}),
        "id": finding.id,
        "api": spec.api,
        "framework": b.framework,
        "target": b.target,
        "kind": b.kind,
        "check": v.check,
        "subject": v.subject,
        "verdict": v.verdict,
        "peer_verdict": v.peer,
        "doc_verdict": v.doc,
        "documented": v.documented,
        "source": v.source,
        "why": v.why,
        "region": finding.region,
        "unstable": finding.unstable,
        "count": len(finding.verdicts),
        "explored": finding.explored,
        "shrunk": finding.shrunk,
        "case": v.case.describe() if v.case is not None else None,
        "replay": replayable(v.case, b.target, finding.id, crashes=_crash_of_call(v)) if v.case is not None else None,
        "expected": v.expected,
        "actual": v.actual,
        "message": v.message or d.text,  # a value verdict records none: say what was measured
        "metrics": v.metrics,
        "spec": {"file": _relative(spec.path), "line": spec.line("frameworks", b.framework)},
        "repro": capture(v),
    })


def _crash_of_call(v: Verdict) -> bool:
    """A case check's crash: its replay measures the crash's rate (a binding check's crash is of its own calls)."""
    return v.verdict == "crash" and isinstance(registry.get(v.check), CaseCheck)


def target_json(spec: Spec, result: TargetResult) -> PartTarget:
    b = result.binding
    return {
        "api": spec.api, "title": spec.model.title, "framework": b.framework, "target": b.target, "kind": b.kind,
        "counts": result.counts, "calls": result.calls, "seconds": round(result.seconds, 3), "error": result.error,
        "notes": result.notes, "gradient_seconds": round(result.gradient_seconds, 3),
        "costs": cast(TargetCosts, {**result.costs,
                                    "check_seconds": {k: round(v, 3) for k, v in sorted(result.check_seconds.items())}}),
        "spec": _relative(spec.path),
        "findings": [finding_json(spec, f) for f in result.findings],
    }


def missing_json(spec: Spec) -> list[MissingEntry]:
    """The frameworks a spec declares to have no counterpart of the API."""
    return [{"api": spec.api, "title": spec.model.title, "framework": name, "source": fw.missing.source,
             "note": fw.missing.note, "spec": {"file": _relative(spec.path), "line": spec.line("frameworks", name)}}
            for name, fw in sorted(spec.model.frameworks.items()) if fw.missing is not None]


def spec_error_json(err: SourceError) -> SpecErrorEntry:
    return {"file": err.file, "line": err.line, "message": err.message, "fix": err.fix}


class PartWriter:
    """This process's share of the results, rewritten whole (atomically) after each addition."""

    def __init__(self, path: Path, meta: PartMeta) -> None:
        self.path, self.meta = path, meta
        self.targets: list[PartTarget] = []
        self.spec_errors: list[SpecErrorEntry] = []
        self.missing: list[MissingEntry] = []
        self.frameworks: dict[str, str] = {}
        self.apis: dict[str, ApiEntry] = {}  # api -> what the report shows of its spec (tables.api_json)
        self.coverage: dict[str, CoverageEntry] = {}  # api -> what its cases reached (the same in every process)
        self._cache: dict[int, tuple[Any, str]] = {}  # id -> (entry, its JSON): see `flush`

    def flush(self) -> None:
        """The whole part, as `json.dumps(body, sort_keys=True)` writes it; each target, api and coverage entry is
        encoded once (they are not changed once added), so writing after every binding is not quadratic."""
        body: Part = {"meta": self.meta, "frameworks": self.frameworks, "targets": self.targets,
                "spec_errors": self.spec_errors, "missing": self.missing, "apis": self.apis, "coverage": self.coverage}
        fields = {k: json.dumps(v, sort_keys=True) for k, v in body.items() if k not in ("targets", "apis", "coverage")}
        fields["targets"] = "[" + ", ".join(self._encoded(t) for t in self.targets) + "]"
        for k in ("apis", "coverage"):
            entries: dict[str, Any] = body[k]
            fields[k] = "{" + ", ".join(f"{json.dumps(name)}: {self._encoded(v)}" for name, v in sorted(entries.items())) + "}"
        write_atomic(self.path, "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in sorted(fields.items())) + "}")

    def _encoded(self, entry: Any) -> str:
        found = self._cache.get(id(entry))
        if found is None or found[0] is not entry:
            found = self._cache[id(entry)] = (entry, json.dumps(entry, sort_keys=True))
        return found[1]


def merge(parts: Iterable[Path], meta: RunMeta) -> Report:
    """One report from the part files of a run (shards and xdist workers alike).

    `meta` fills in over the parts' own (seed, max_examples, command, started), which is all a run
    killed before its end leaves behind; its `seconds` then run until its last part was written, and
    `incomplete` says that some process of the run never finished (a harness error: see delta)."""
    targets: dict[str, PartTarget] = {}
    part_meta: dict[str, Any] = {}
    spec_errors: dict[tuple[Any, ...], SpecErrorEntry] = {}
    frameworks: dict[str, str] = {}
    missing: dict[tuple[str, str], MissingEntry] = {}
    cover: dict[str, CoverageEntry] = {}
    apis: dict[str, ApiEntry] = {}
    last_written = 0.0
    unfinished = 0  # parts of a run (they carry `started`) whose process never marked them `finished`
    for part in sorted(parts):
        try:
            data = json.loads(Path(part).read_text(encoding="utf-8"))
            last_written = max(last_written, Path(part).stat().st_mtime)
        except (OSError, ValueError):
            continue  # a part being written by a killed process: its previous version was replaced atomically
        if data.get("schema") == SCHEMA:  # a whole report (e.g. a shard's): incomplete stays incomplete
            unfinished += bool(data.get("incomplete"))
            data = as_part(data)
        own = data.get("meta", {})
        unfinished += "started" in own and not own.get("finished")
        part_meta = {**{k: v for k, v in own.items() if k != "finished"}, **part_meta}
        frameworks.update(data.get("frameworks", {}))
        for t in data.get("targets", []):
            targets[f"{t['api']}|{t['target']}"] = t
        for e in data.get("spec_errors", []):
            spec_errors[(e["file"], e["line"], e["message"])] = e
        for m in data.get("missing", []):
            missing[(m["api"], m["framework"])] = m
        cover.update(data.get("coverage", {}))
        apis.update(data.get("apis", {}))
    ordered = [targets[k] for k in sorted(targets)]
    findings = sorted((f for t in ordered for f in t["findings"]),
                      key=lambda f: (f["api"], f["framework"], f["target"], f["check"], f["verdict"], f["id"]))
    found = cast("list[CauseEntry]", causes.of(findings))  # over the merged findings: shards and xdist workers alike
    timing = {"seconds": round(max(0.0, last_written - part_meta["started"]), 3)} if "started" in part_meta else {}
    return cast(Report, {
        "schema": SCHEMA,
        **part_meta,
        **timing,
        **meta,
        "incomplete": bool(unfinished),
        "frameworks": dict(sorted(frameworks.items())),
        "spec_errors": [spec_errors[k] for k in sorted(spec_errors, key=str)],
        "missing": [missing[k] for k in sorted(missing)],
        "apis": dict(sorted(apis.items())),
        "targets": [_without_findings(t) for t in ordered],
        "findings": findings,
        "causes": found,
        "coverage": dict(sorted(cover.items())),
        "summary": {**summarize(findings, ordered), "coverage": {"reached": sum(c["reached"] for c in cover.values()),
                                                                 "total": sum(c["total"] for c in cover.values())},
                    "causes": len(found), "classes": class_counts(findings)},
    })


def class_counts(findings: Sequence[FindingEntry]) -> dict[str, int]:
    """Undocumented findings per class, in severity order."""
    counts = {k: 0 for k in CLASSES}
    for f in findings:
        if not f["documented"]:
            k = causes.class_of(f)
            counts[k] = counts.get(k, 0) + 1
    return counts


def _without_findings(t: PartTarget) -> TargetEntry:
    """The report lists findings apart from their targets."""
    return cast(TargetEntry, {k: v for k, v in t.items() if k != "findings"})


def as_part(report: Report) -> Part:
    """A merged report in the form of a part file, so reports (e.g. of shards) merge like parts."""
    findings: dict[tuple[str, str], list[FindingEntry]] = {}
    for f in report.get("findings", []):
        findings.setdefault((f["api"], f["target"]), []).append(f)
    return {"frameworks": report.get("frameworks", {}), "spec_errors": report.get("spec_errors", []),
            "missing": report.get("missing", []), "apis": report.get("apis", {}), "coverage": report.get("coverage", {}),
            "targets": [{**t, "findings": findings.get((t["api"], t["target"]), [])} for t in report.get("targets", [])]}


def merged_meta(reports: list[Report]) -> RunMeta:
    """The run facts of reports merged into one; they must come from the same seed and budget."""
    for key in ("seed", "max_examples"):
        values = {r.get(key) for r in reports}
        if len(values) > 1:
            raise ValueError(f"cannot merge reports of different {key}s: {sorted(values, key=str)}")
    present = set().union(*(r.get("frameworks", {}) for r in reports)) if reports else set()
    missing = set().union(*(r.get("missing_frameworks", []) for r in reports)) if reports else set()
    started = [r["started"] for r in reports if r.get("started")]  # the report page shows when the run began
    return {"seed": reports[0].get("seed") if reports else None,
            "max_examples": reports[0].get("max_examples") if reports else None,
            "command": " ; ".join(sorted({str(r.get("command")) for r in reports})),
            "seconds": max((r.get("seconds") or 0 for r in reports), default=0),
            "missing_frameworks": sorted(missing - present),
            **({"started": min(started)} if started else {})}


def summarize(findings: Sequence[FindingEntry], targets: Sequence[TargetEntry]) -> Counts:
    return {
        "targets": len(targets),
        "cases": sum(sum(n for check in t["counts"].values() for n in check.values()) for t in targets),
        "findings": len(findings),
        "documented": sum(1 for f in findings if f["documented"]),
        "undocumented": sum(1 for f in findings if not f["documented"]),
    }


def strip_timings(report: Any) -> Any:
    """The report without its timing fields: what must be identical for the same seed."""
    if isinstance(report, dict):
        return {k: strip_timings(v) for k, v in report.items() if k not in TIMING_KEYS}
    if isinstance(report, list):
        return [strip_timings(v) for v in report]
    return report
