"""What changed between accepted findings and a run: new, changed, fixed. The gate and `harness diff`.

Exit status, for CI: 0 nothing new or changed; 1 new or changed findings; 2 the harness could not run
everything (a bad spec, a framework that could not start), whatever else the run found.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from harness.gate.baselines import Entry, entries
from harness.judge.causes import class_of, rule_of
from harness.judge.classes import CLASSES
from harness.report.schema import Report

OK, FINDINGS, HARNESS_ERROR = 0, 1, 2
UNSTABLE = frozenset({"crash", "timeout", "memory", "nondeterministic"})
"""Verdicts of calls that gave no stable answer (died, hung, ran out of memory, or answered differently when
re-run). A flip among them on the same finding is one behaviour for the gate: a heap corruption shows as a
crash in one run, a hang in the next, and a crash that comes and goes as nondeterministic. A finding accepted as
nondeterministic may also show one of its answers alone in a run (its re-runs happened to agree): that does not
make the call stable, so it is flipped too (MindSpore's dtype probes raise or return memory, by the run)."""
PARTITION_KEYS = ("variant", "values", "probe", "form", "elements")
"""Region keys that split findings into separate causes (every check's `partition`, harness/checks/); the
other keys are where region probes found the finding to hold, which can move from run to run."""


@dataclass
class Delta:
    old_label: str
    new_label: str
    new: list[Entry] = field(default_factory=list)
    explored: list[Entry] = field(default_factory=list)  # new, but found only by this seed's exploration: not failing
    changed: list[tuple[Entry, Entry]] = field(default_factory=list)  # (old, new): the verdict changed
    flipped: list[tuple[Entry, Entry]] = field(default_factory=list)  # (old, new): another UNSTABLE verdict: not failing
    moved: list[tuple[Entry, Entry]] = field(default_factory=list)  # (fixed, new): the same cause, its region moved
    redocumented: list[tuple[Entry, Entry]] = field(default_factory=list)  # same verdict, documentation changed
    fixed: list[Entry] = field(default_factory=list)
    ungated: list[Entry] = field(default_factory=list)  # new or changed, of a class the gate policy does not gate
    stale: list[Entry] = field(default_factory=list)  # new or changed, diagnosed as uninitialised memory: not failing
    gating: frozenset[str] = frozenset(CLASSES)  # the classes whose new or changed findings fail the gate
    classes: dict[str, str] = field(default_factory=dict)  # finding id -> class, of the run's findings
    rules: dict[str, str] = field(default_factory=dict)  # finding id -> its diagnosis rule, of the run's findings
    reads_memory: set[tuple[str, str]] = field(default_factory=set)  # (api, target) shown to read memory nothing wrote
    not_run: list[Entry] = field(default_factory=list)  # accepted, but its target did not run this time
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)  # why the harness could not run everything
    versions: dict[str, tuple[str, str]] = field(default_factory=dict)  # framework -> (old, new)

    @property
    def exit_code(self) -> int:
        if self.errors:
            return HARNESS_ERROR
        return FINDINGS if self.new or self.changed else OK

    def to_json(self) -> dict[str, Any]:
        def row(e: Entry) -> dict[str, Any]:
            return e.__dict__

        return {"old": self.old_label, "new": self.new_label, "exit_code": self.exit_code,
                "versions": {k: list(v) for k, v in sorted(self.versions.items())},
                "new_findings": [row(e) for e in self.new], "explored": [row(e) for e in self.explored],
                "changed": [{"old": row(a), "new": row(b)} for a, b in self.changed],
                "flipped": [{"old": row(a), "new": row(b)} for a, b in self.flipped],
                "moved": [{"old": row(a), "new": row(b)} for a, b in self.moved],
                "redocumented": [{"old": row(a), "new": row(b)} for a, b in self.redocumented],
                "fixed": [row(e) for e in self.fixed], "gating": sorted(self.gating, key=CLASSES.index),
                "ungated": [{**row(e), "class": self.classes.get(e.id)} for e in self.ungated],
                "stale_memory": [row(e) for e in self.stale], "not_run": [row(e) for e in self.not_run],
                "unchanged": self.unchanged, "errors": self.errors}


def ran(report: Report) -> set[str]:
    """Targets that ran to the end in a report."""
    return {t["target"] for t in report.get("targets", []) if not t.get("error")}


def harness_errors(report: Report) -> list[str]:
    """Why the harness could not run everything: bad specs, bindings that could not run, a killed run."""
    out = [f"bad spec {e['file']}:{e['line']}: {e['message']} (fix: {e['fix']})" for e in report.get("spec_errors", [])]
    out += [f"{t['target']} could not run: {t['error']}" for t in report.get("targets", []) if t.get("error")]
    if report.get("incomplete"):
        out.append("the run did not finish (killed or interrupted): its report holds only the bindings finished by "
                   "then (fix: run it again to the end)")
    return out


def compare(old: dict[str, Entry], new_report: Report, old_label: str, new_label: str,
            scope: set[str] | None = None, gating: frozenset[str] = frozenset(CLASSES)) -> Delta:
    """Accepted entries `old` against a run; only targets in `scope` (default: those that ran) count, and only
    findings of the `gating` classes fail (the others' new and changed ones are listed as not gating)."""
    scope = ran(new_report) if scope is None else scope
    new = {k: e for k, e in entries(new_report).items() if e.target in scope}
    d = Delta(old_label, new_label, errors=harness_errors(new_report), gating=gating,
              classes={f["id"]: class_of(f) for f in new_report.get("findings", [])},
              rules={f["id"]: rule_of(f) for f in new_report.get("findings", [])})
    d.reads_memory = {(e.api, e.target) for e in new.values() if d.rules.get(e.id) == STALE_MEMORY}
    for key, e in sorted(new.items(), key=lambda kv: _order(kv[1])):
        before = old.get(key)
        if before is None:
            (d.explored if e.explored else d.new).append(e)
        elif before.verdict != e.verdict:
            if e.explored:  # only this seed's exploration shows it (the accepted case did not): it decides nothing
                d.explored.append(e)
            else:
                unstable = {before.verdict, e.verdict} <= UNSTABLE or before.verdict == "nondeterministic"
                (d.flipped if unstable else d.changed).append((before, e))
        elif before.documented != e.documented:
            d.redocumented.append((before, e))
        else:
            d.unchanged += 1
    for key, e in sorted(old.items(), key=lambda kv: _order(kv[1])):
        if key not in new:
            (d.fixed if e.target in scope else d.not_run).append(e)
    _pair_moved(d)
    _tainted(d, old, new)
    _apply_policy(d)
    return d


def _tainted(d: Delta, old: dict[str, Entry], new: dict[str, Entry]) -> None:
    """A new crash, hang or varying result of a binding whose accepted crash or hang is still there is flipped, not
    new: a process a call corrupted (a heap corruption) answers other calls as it happens to (the defaults check's
    repeated calls of paddle's nll_loss on the case that corrupts it). Listed with the accepted one as 'was'."""
    unstable: dict[str, Entry] = {}
    for key, e in old.items():
        if e.verdict in UNSTABLE - {"nondeterministic"} and key in new:
            unstable.setdefault(e.target, e)
    keep = []
    for e in d.new:
        accepted = unstable.get(e.target)
        if accepted is not None and e.verdict in UNSTABLE:
            d.flipped.append((accepted, e))
        else:
            keep.append(e)
    d.new = keep


STALE_MEMORY = "empty-memory"
"""The diagnosis of a result read from memory nothing wrote (a reduction over empty input): which calls show it
depends on what the allocator hands out, so such a finding comes and goes between runs with nothing changed."""


def _apply_policy(d: Delta) -> None:
    """New and changed findings of classes the policy does not gate are listed apart, not failing; so are those
    diagnosed as uninitialised memory (still reported in full, and in the report's crash-memory causes)."""
    def gated(e: Entry) -> bool:
        return d.classes.get(e.id, "") in d.gating or e.id not in d.classes  # a finding of unknown class gates

    def stale(e: Entry) -> bool:
        """Memory nothing wrote, or another result on empty input of a binding this run showed reading it."""
        rule = d.rules.get(e.id)
        return rule == STALE_MEMORY or (rule in EMPTY_RULES and (e.api, e.target) in d.reads_memory)

    d.stale += _set_aside(d, stale)
    d.ungated += _set_aside(d, lambda e: not gated(e))


def _set_aside(d: Delta, apart: Callable[[Entry], bool]) -> list[Entry]:
    """Take the new and changed findings `apart` selects out of the failing lists; return them (for a changed
    one, its new entry)."""
    out = [e for e in d.new if apart(e)] + [b for _a, b in d.changed if apart(b)]
    d.new = [e for e in d.new if not apart(e)]
    d.changed = [(a, b) for a, b in d.changed if not apart(b)]
    return out


def cause(e: Entry) -> tuple[str, ...] | None:
    """What a finding is about, without where its region probes found it to hold: api, target, check, subject,
    the verdict (its UNSTABLE family as one) and the partition part of its region. None when the subject was
    not recorded (baselines written before it was): such a finding is never paired."""
    if e.subject is None:
        return None
    region = dict(part.split("=", 1) for part in e.region.split(";") if "=" in part)
    verdict = "unstable" if e.verdict in UNSTABLE else e.verdict
    return (e.api, e.target, e.check, e.subject, verdict, *(f"{k}={region.get(k, '')}" for k in PARTITION_KEYS))


EMPTY_RULES = (STALE_MEMORY, "empty-input")
"""Diagnoses of a result on empty input: what a reduction over nothing gave, memory nothing wrote among them."""


def _as_varying(e: Entry) -> tuple[str, ...] | None:
    """The cause of a finding with its verdict taken as one that varies: a nondeterministic call and a value read
    from memory nothing wrote (on empty input, where one run repeats it and the next does not) are one behaviour."""
    key = cause(e)
    return None if key is None else (*key[:4], "varies", *key[5:])


def _pair_moved(d: Delta) -> None:
    """A new and a fixed finding of the same cause are one finding whose region moved: listed, not failing. A new
    finding on empty input (see EMPTY_RULES) also pairs with a fixed one of the same call that was nondeterministic
    or a value: which of the two a run sees depends on what the allocator handed out."""
    waiting: dict[tuple[str, ...], list[Entry]] = {}
    for e in d.fixed:
        for key in {cause(e), _as_varying(e) if e.verdict in ("nondeterministic", "value") else None} - {None}:
            waiting.setdefault(key, []).append(e)  # type: ignore[arg-type]
    still_new, taken = [], set()
    for e in d.new:
        keys = [cause(e)] + ([_as_varying(e)] if e.verdict == "nondeterministic" or d.rules.get(e.id) in EMPTY_RULES
                             else [])
        match = next((old for key in keys if key is not None for old in waiting.get(key, []) if id(old) not in taken), None)
        if match is not None:
            taken.add(id(match))
            d.moved.append((match, e))
        else:
            still_new.append(e)
    paired = {id(old) for old, _ in d.moved}
    d.new, d.fixed = still_new, [e for e in d.fixed if id(e) not in paired]


def diff_reports(old_report: Report, new_report: Report) -> Delta:
    """Two runs (e.g. before and after a framework upgrade), over the targets both ran."""
    def label(r: Report) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(r.get("frameworks", {}).items())) or "no frameworks"

    d = compare(entries(old_report), new_report, label(old_report), label(new_report), ran(old_report) & ran(new_report))
    d.errors = harness_errors(old_report) + d.errors
    for name in sorted(set(old_report.get("frameworks", {})) | set(new_report.get("frameworks", {}))):
        d.versions[name] = (old_report.get("frameworks", {}).get(name, "-"), new_report.get("frameworks", {}).get(name, "-"))
    return d


def _order(e: Entry) -> tuple[str, ...]:
    return (e.api, e.target, e.check, e.id)


def text(d: Delta) -> str:
    lines = [f"{d.old_label} -> {d.new_label}"]
    for name, (a, b) in d.versions.items():
        lines.append(f"  {name}: {a} -> {b}" + ("" if a != b else " (unchanged)"))

    def row(tag: str, e: Entry, extra: str = "") -> str:
        doc = "documented" if e.documented else "UNDOCUMENTED"
        return f"  {tag} {e.id} {e.api} {e.target} [{e.check}] {e.verdict}{extra} ({doc}; where {e.region})"

    for title, items in (("NEW", d.new), ("FIXED", d.fixed)):
        lines.append(f"{title} ({len(items)})")
        lines += [row("+" if title == "NEW" else "-", e) for e in items]
    if d.explored:
        lines.append(f"EXPLORED ({len(d.explored)}, not failing: found only by this seed's exploration cases; "
                     "`harness baseline update` accepts them and replays their cases from then on)")
        lines += [row("?", e) for e in d.explored]
    lines.append(f"CHANGED ({len(d.changed)})")
    lines += [row("~", b, f" (was {a.verdict})") for a, b in d.changed]
    if d.moved:
        lines.append(f"MOVED ({len(d.moved)}, not failing: the same cause, found to hold on other axis values)")
        lines += [row(">", b, f" (was {a.id} where {a.region})") for a, b in d.moved]
    if d.flipped:
        lines.append(f"FLIPPED ({len(d.flipped)}, not failing: another verdict of a call with no stable answer)")
        lines += [row("~", b, f" (was {a.verdict})") for a, b in d.flipped]
    if d.redocumented:
        lines.append(f"DOCUMENTATION CHANGED ({len(d.redocumented)}, not failing)")
        lines += [row("~", b, f" (was {'documented' if a.documented else 'undocumented'})") for a, b in d.redocumented]
    if d.stale:
        lines.append(f"STALE MEMORY ({len(d.stale)}, not failing: results read from memory nothing wrote, on empty input; "
                     "they come and go between runs)")
        lines += [row("s", e) for e in d.stale]
    if d.ungated:
        lines.append(f"NOT GATED ({len(d.ungated)}, not failing: new or changed findings of classes the gate policy leaves "
                     f"out; gating: {', '.join(sorted(d.gating, key=CLASSES.index)) or 'none'})")
        lines += [row("o", e, f" [{d.classes.get(e.id)}]") for e in d.ungated]
    if d.not_run:
        lines.append(f"NOT RUN ({len(d.not_run)} accepted findings whose target did not run)")
    lines.append(f"unchanged: {d.unchanged}")
    for err in d.errors:
        lines.append(f"HARNESS ERROR: {err}")
    verdict = {OK: "PASS: nothing new or changed", FINDINGS: "FAIL: new or changed findings",
               HARNESS_ERROR: "ERROR: the harness could not run everything"}[d.exit_code]
    lines.append(f"{verdict} (exit {d.exit_code})")
    return "\n".join(lines)


_ENV = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"), autoescape=True)


def html(d: Delta) -> str:
    return _ENV.get_template("delta.html.j2").render(d=d, code=d.exit_code)


def write(d: Delta, directory: Path, stem: str) -> list[Path]:
    """`stem`.txt, .json and .html under `directory` (e.g. reports/gate.*, reports/upgrade.*)."""
    from harness.files import write_atomic

    paths = [directory / f"{stem}.{ext}" for ext in ("txt", "json", "html")]
    write_atomic(paths[0], text(d) + "\n")
    write_atomic(paths[1], json.dumps(d.to_json(), indent=1, sort_keys=True))
    write_atomic(paths[2], html(d))
    return paths
