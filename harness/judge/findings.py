"""Findings: verdicts of one binding grouped into distinct discrepancies with stable ids.

A finding names a discrepancy, not the numbers that revealed it: its id hashes the api, target,
check, subject and region (its partition plus the axes `region.locate` finds it on), never the
drawn values, the verdict or whether it is documented, so a baseline can say what changed.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness.cases.case import Case
from harness.checks import registry
from harness.judge.verdicts import VERDICTS, Verdict
from harness.spec import dtypes


def features(case: Case | None) -> dict[str, str]:
    """Coarse, value-free facts about a case: what a finding's region is made of."""
    if case is None:
        return {}
    out: dict[str, str] = {"variant": str(case.variant)} if case.variant else {}
    for name, a in case.arrays.items():
        if a is None:
            out[f"{name}"] = "absent"
            continue
        out[f"dtype({name})"] = dtypes.name(a)
    first = next((a for a in case.arrays.values() if a is not None), None)
    if first is not None:
        out["shape"] = "empty" if first.size == 0 else ("0-d" if first.ndim == 0 else ("large" if first.size > 1000 else f"{first.ndim}-d"))
    out["values"] = "non-finite" if case.nonfinite else "finite"
    for name, v in case.params.items():
        if name in case.omit:
            out[name] = "omitted"
        elif isinstance(v, bool) or v is None or isinstance(v, str):
            out[name] = repr(v)
        elif isinstance(v, (int, float)):
            out[name] = "0" if v == 0 else ("<0" if v < 0 else (">0"))
    if case.unbatched:
        out["form"] = "unbatched"
    if case.empty:  # a reduction over nothing: memory nothing wrote lands it in any verdict, so it is its own finding
        out["elements"] = "none"
    if case.origin == "invalid":
        out["probe"] = case.probe or case.note.split("=")[0].split(" ")[0]
    return out


@dataclass
class Finding:
    id: str
    verdicts: list[Verdict]
    region: dict[str, list[str]]  # where it holds: its partition, then what `region.locate` finds by probing
    minimal: Verdict
    shrunk: bool = False
    unstable: dict[str, list[str]] = field(default_factory=dict)  # axis values where repeated probes disagreed (not in the id)

    @property
    def head(self) -> Verdict:
        return self.minimal

    @property
    def fixed_cases(self) -> int:
        """Members from the core or replayed cases: the ones every seed runs."""
        return sum(1 for v in self.verdicts if v.case is None or not v.case.explored)

    @property
    def replayed(self) -> bool:
        """Whether a member is the replayed case of an accepted finding."""
        return any(v.case is not None and bool(v.case.regression) for v in self.verdicts)

    def replays(self, fid: str) -> bool:
        """Whether a member is the replayed case of the accepted finding `fid` (other findings' replayed cases on
        empty input land in whichever verdict the run's memory gives them)."""
        return any(v.case is not None and v.case.regression == fid for v in self.verdicts)

    @property
    def explored(self) -> bool:
        """Found only by this seed's exploration cases: reported, but not what a gate decides on."""
        return self.fixed_cases == 0


def partition_of(check: str, found: dict[str, str]) -> dict[str, str]:
    """Of a case's `features`, those `check` declares as splitting findings (finite vs non-finite values, which probe)."""
    return {k: found[k] for k in registry.partition(check) if k in found}


def partition(v: Verdict) -> dict[str, str]:
    """The partition of a verdict: its check's, of its case."""
    return partition_of(v.check, features(v.case))


def finding_id(api: str, target: str, check: str, subject: str, region: dict[str, list[str]]) -> str:
    """Names the discrepancy (where it holds), not its verdict: a verdict that changes keeps its id."""
    key = "|".join([api, target, check, subject] + [f"{k}={','.join(v)}" for k, v in sorted(region.items())])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def group(verdicts: list[Verdict]) -> list[Finding]:
    """Non-match verdicts of one binding -> one finding per cause (ids are given by `identify`)."""
    buckets: dict[tuple[Any, ...], list[Verdict]] = defaultdict(list)
    for v in verdicts:
        if not v.is_match:
            key = (v.check, v.verdict, v.documented, v.source, v.why, v.subject, tuple(sorted(partition(v).items())))
            buckets[key].append(v)
    out = []
    for members in buckets.values():
        part = partition(members[0])
        out.append(Finding("", members, {k: [val] for k, val in part.items()}, min(members, key=leading)))
    return out


def identify(findings: list[Finding]) -> list[Finding]:
    """Give each finding its id; findings that name the same discrepancy become one (the larger leads)."""
    by_id: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        b = f.head.binding
        f.id = finding_id(b.spec.api, b.target, f.head.check, f.head.subject, f.region)
        by_id[f.id].append(f)
    out = []
    for _fid, same in by_id.items():
        # the one holding an accepted finding's replayed case leads, so its verdict is the accepted one whatever
        # else this seed's calls showed (on empty input a framework reading stale memory splits its cases anew)
        same.sort(key=lambda f: (not f.replays(_fid), not f.replayed, -f.fixed_cases, -len(f.verdicts),
                                 VERDICTS.index(f.head.verdict), not f.head.documented))
        lead = same[0]
        for other in same[1:]:
            lead.verdicts.extend(other.verdicts)
        out.append(lead)
    return sorted(out, key=lambda f: (f.head.check, f.head.verdict, f.id))


def leading(v: Verdict) -> tuple[bool, bool, bool, int, int, str]:
    """A replayed case of an accepted finding leads (so its id is found again whatever the seed), one on non-empty
    input before one on empty input (where a framework reading memory nothing wrote lands it in whichever group
    that run's memory gives, and its region probes follow that memory), then the simplest core case, then the
    simplest explored one."""
    replayed = v.case is not None and bool(v.case.regression)
    empty = replayed and v.case is not None and v.case.empty
    return (not replayed, empty, v.case is not None and v.case.explored, *_simplicity(v))


def _simplicity(v: Verdict) -> tuple[int, int, str]:
    case = v.case
    if case is None:
        return (0, 0, "")
    return (case.size, sum(1 for x in case.params.values() if x not in (None, 0, 0.0)), case.fingerprint())
