"""Accepted findings per framework version: one checked-in text file each, one finding per line.

Why text and not JSON: a pull request that bumps a framework shows, line by line, which findings
the new version adds, changes or fixes. Lines are sorted so the diff is the change.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.files import write_atomic
from harness.report.schema import Report

DIR = Path(__file__).resolve().parents[2] / "reports" / "baselines"
_NAME = re.compile(r"^(?P<framework>[a-z]+)-(?P<version>[0-9][0-9A-Za-z.+_-]*)\.txt$")
HEADER = ("# Accepted conformance findings for {framework} {version}: one per line, sorted.\n"
          "# Written by `harness baseline update`; the gate fails on a finding not listed here or whose\n"
          "# verdict differs. Columns: id verdict documented api target check region subject\n")


@dataclass(frozen=True)
class Entry:
    id: str
    verdict: str
    documented: bool
    api: str
    target: str
    check: str
    region: str
    explored: bool = False  # found only by the run's exploration cases (not kept in baseline files)
    subject: str | None = None  # what a case-less finding is about, as one token ("-": none); None: not recorded

    def line(self) -> str:
        return " ".join([self.id, self.verdict, "documented" if self.documented else "undocumented", self.api,
                         self.target, self.check, self.region] + ([self.subject] if self.subject is not None else []))


def subject_token(subject: str) -> str:
    """A finding's subject as one baseline column (its id already hashes the subject itself)."""
    return "_".join(subject.split()) or "-"


def region_text(region: dict[str, list[str]]) -> str:
    return ";".join(f"{k}={'|'.join(v)}" for k, v in sorted(region.items())).replace(" ", "") or "-"


def entries(report: Report, framework: str | None = None) -> dict[str, Entry]:
    """The report's findings as baseline entries (optionally one framework's), by id."""
    out = {}
    for f in report.get("findings", []):
        if framework is None or f["framework"] == framework:
            subject = f.get("subject")
            out[f["id"]] = Entry(f["id"], f["verdict"], bool(f["documented"]), f["api"], f["target"], f["check"],
                                 region_text(f.get("region") or {}), bool(f.get("explored")),
                                 None if subject is None else subject_token(subject))
    return out


def path_for(framework: str, version: str, directory: Path = DIR) -> Path:
    if not re.fullmatch(r"[a-z]+", framework) or not re.fullmatch(r"[0-9][0-9A-Za-z.+_-]*", version):
        raise ValueError(f"not a framework name and version: {framework!r} {version!r}")
    return directory / f"{framework}-{version}.txt"


def write(report: Report, directory: Path = DIR) -> list[Path]:
    """One baseline file per framework the report ran; returns the files written."""
    written = []
    for framework, version in sorted(report.get("frameworks", {}).items()):
        rows = sorted(entries(report, framework).values(), key=lambda e: (e.api, e.target, e.check, e.id))
        path = path_for(framework, version, directory)
        write_atomic(path, HEADER.format(framework=framework, version=version) + "".join(e.line() + "\n" for e in rows))
        written.append(path)
    return written


def read(path: Path) -> dict[str, Entry]:
    out = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split(" ")  # no column holds a space: regions and subjects are written without
        if len(parts) not in (7, 8) or parts[2] not in ("documented", "undocumented"):
            raise ValueError(f"{path}:{number}: not a baseline line (id verdict documented api target check region "
                             "[subject]); fix: regenerate the file with `harness baseline update`")
        subject = parts[7] if len(parts) == 8 else None  # files written before subjects were recorded have 7 columns
        out[parts[0]] = Entry(parts[0], parts[1], parts[2] == "documented", parts[3], parts[4], parts[5], parts[6],
                              subject=subject)
    return out


def versions(framework: str, directory: Path = DIR) -> list[str]:
    """Versions with a baseline, oldest first."""
    found = [m["version"] for p in directory.glob(f"{framework}-*.txt") if (m := _NAME.match(p.name))
             and m["framework"] == framework]
    return sorted(found, key=_version_key)


def _version_key(version: str) -> tuple[Any, ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.+_-]", version))


def closest(framework: str, version: str, directory: Path = DIR) -> str | None:
    """The baseline to judge a version by: its own, else the newest older one, else the oldest newer one."""
    known = versions(framework, directory)
    if version in known:
        return version
    older = [v for v in known if _version_key(v) < _version_key(version)]
    return older[-1] if older else (known[0] if known else None)


def load_for(frameworks: Iterable[tuple[str, str]], directory: Path = DIR) -> tuple[dict[str, Entry], dict[str, str | None]]:
    """All accepted entries for the frameworks (name, version) and which baseline version each used."""
    accepted: dict[str, Entry] = {}
    used: dict[str, str | None] = {}
    for framework, version in frameworks:
        chosen = closest(framework, version, directory)
        used[framework] = chosen
        if chosen is not None:
            accepted.update(read(path_for(framework, chosen, directory)))
    return accepted, used
