"""The `harness` command: run the conformance suite, check specs, re-render a report."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from harness.report.schema import Report, RunMeta

if TYPE_CHECKING:
    from harness.gate.delta import Delta

ROOT = Path(__file__).resolve().parent.parent


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:  # everything after `run` belongs to pytest, options included
        return _run(argv[1:])
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every spec against the installed frameworks (pytest underneath)")
    run.add_argument("pytest_args", nargs="*",
                     help="passed to pytest, e.g. -k cross_entropy --seed 3 --max-examples 50 --workers torch=PY")
    check = sub.add_parser("check-specs", help="load and validate specs without running anything")
    check.add_argument("paths", nargs="*", default=[str(ROOT / "specs")])
    rep = sub.add_parser("report", help="merge the latest run's part files; re-render report.json and index.html")
    rep.add_argument("--report-dir", default=str(ROOT / "reports"))
    rep.add_argument("--merge", nargs="+", metavar="PATH",
                     help="merge these instead: report.json files, or directories holding one (e.g. each shard's reports/)")
    reports = ROOT / "reports"
    gate = sub.add_parser("gate", help="compare a run with the accepted findings of its framework versions "
                          "(exit 0 nothing new, 1 new or changed findings, 2 the harness could not run everything)")
    gate.add_argument("--report", default=str(reports / "report.json"))
    gate.add_argument("--baselines", default=str(reports / "baselines"))
    gate.add_argument("--out", default=str(reports), help="where gate.txt/.json/.html go")
    gate.add_argument("--classes", default="all", metavar="LIST",
                      help="finding classes whose new or changed findings fail the gate, comma-separated (default: all): "
                      "crash-memory, wrong-value, nondeterministic, error, interface, dtype, precision, convention")
    base = sub.add_parser("baseline", help="accept a run's findings as the baseline of its framework versions")
    base.add_argument("action", choices=["update"])
    base.add_argument("--report", default=str(reports / "report.json"))
    base.add_argument("--baselines", default=str(reports / "baselines"))
    base.add_argument("--cases", default=str(ROOT / "cases"), help="where the replayed minimal cases go (CASES/regressions)")
    stab = sub.add_parser("stability", help="gate several runs (e.g. of seeds 1..N) against the baselines and count, per "
                          "framework, what appeared, disappeared, moved, flipped or changed (exit as for gate, worst run)")
    stab.add_argument("reports", nargs="+", help="report.json files, or directories holding one")
    stab.add_argument("--baselines", default=str(reports / "baselines"))
    stab.add_argument("--out", default=str(reports), help="where stability.txt/.json go")
    diff = sub.add_parser("diff", help="what changed between two runs, e.g. before and after a framework upgrade "
                          "(exit 0/1/2 as for gate)")
    diff.add_argument("old")
    diff.add_argument("new")
    diff.add_argument("--out", default=str(reports), help="where upgrade.txt/.json/.html go")
    args = parser.parse_args(argv)
    if args.command == "check-specs":
        return _check(args.paths)
    if args.command == "report" and args.merge:
        return _merge([Path(p) for p in args.merge], Path(args.report_dir))
    if args.command == "gate":
        from harness.judge.classes import parse_selection

        try:
            gating = parse_selection(args.classes)
        except ValueError as exc:
            parser.error(str(exc))
        return _gate(Path(args.report), Path(args.baselines), Path(args.out), gating)
    if args.command == "stability":
        return _stability([Path(p) for p in args.reports], Path(args.baselines), Path(args.out))
    if args.command == "baseline":
        return _baseline_update(Path(args.report), Path(args.baselines), Path(args.cases))
    if args.command == "diff":
        return _diff(Path(args.old), Path(args.new), Path(args.out))
    return _report(Path(args.report_dir))


def _run(pytest_args: list[str]) -> int:
    import pytest

    args = ([] if any(_names_specs(a) for a in pytest_args) else [str(ROOT / "specs")]) + list(pytest_args)
    return int(pytest.main(["--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), *args]))


def _names_specs(arg: str) -> bool:
    """An argument that selects specs itself (a spec file or a directory of them), not an option value."""
    path = Path(arg.split("::", 1)[0])
    return not arg.startswith("-") and path.exists() and (path.suffix in (".yaml", ".yml") or "specs" in path.resolve().parts)


def _check(paths: list[str]) -> int:
    from harness.spec.model import load_all

    bad = 0
    for path in paths:
        result = load_all(path)
        for spec in result.specs:
            print(f"ok   {spec.path}  ({spec.api}: {len(spec.bindings)} bindings)")
        for err in result.errors:
            print(f"BAD  {err}")
        bad += len(result.errors)
    return 2 if bad else 0


def _report(report_dir: Path) -> int:
    from harness.report.html import text_table
    from harness.report.publish import publish
    from harness.report.results import merge

    runs = sorted((report_dir / "parts").glob("*/"), key=lambda p: p.stat().st_mtime)
    parts = sorted(runs[-1].glob("*.json")) if runs else []
    if not parts:
        print(f"no part files under {report_dir / 'parts'}; run `harness run` first", file=sys.stderr)
        return 2
    previous = {}
    if (report_dir / "report.json").exists():
        previous = json.loads((report_dir / "report.json").read_text())
    meta = cast(RunMeta, {k: previous[k] for k in ("seed", "max_examples", "command", "started", "seconds",
                                                     "missing_frameworks") if k in previous})
    merged = merge(parts, meta)
    publish(merged, report_dir)
    print(text_table(merged))
    return 0


def _merge(paths: list[Path], report_dir: Path) -> int:
    """One report from the reports of several runs of the same seed, e.g. the shards of a CI matrix."""
    from harness.report.html import text_table
    from harness.report.publish import publish
    from harness.report.results import merge, merged_meta

    files = [p / "report.json" if p.is_dir() else p for p in paths]
    absent = [str(f) for f in files if not f.is_file()]
    if absent:
        print(f"no report to merge at: {', '.join(absent)} (give report.json files or the directories holding them)",
              file=sys.stderr)
        return 2
    try:
        meta = merged_meta([json.loads(f.read_text()) for f in files])
    except ValueError as exc:
        print(f"cannot merge {', '.join(map(str, files))}: {exc}", file=sys.stderr)
        return 2
    merged = merge(files, meta)
    publish(merged, report_dir)
    print(text_table(merged))
    return 0


def _load_report(path: Path) -> Report | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read report {path}: {exc}; fix: run `harness run` (or `nox -s conformance`) first", file=sys.stderr)
        return None


def _gate_delta(report: Report, baselines: Path, gating: frozenset[str] | None = None) -> Delta:
    """A run against the accepted findings of its frameworks' versions (only the `gating` classes fail: default all)."""
    from harness.gate import baselines as baseline
    from harness.gate import delta
    from harness.judge.classes import CLASSES

    accepted, used = baseline.load_for(report.get("frameworks", {}).items(), baselines)
    ran = ", ".join(f"{k} {v}" for k, v in sorted(report.get("frameworks", {}).items()))
    against = ", ".join(f"{k}-{v}" if v else f"{k}: NO BASELINE" for k, v in sorted(used.items()))
    d = delta.compare(accepted, report, f"baseline ({against or 'none'})", f"run ({ran or 'no frameworks'})",
                      gating=frozenset(CLASSES) if gating is None else gating)
    d.versions = {k: (used.get(k) or "-", v) for k, v in sorted(report.get("frameworks", {}).items())}
    if not report.get("frameworks"):
        d.errors.append("no framework ran; fix: install one (nox -s conformance sets them up) or pass --workers")
    return d


def _gate(report_path: Path, baselines: Path, out: Path, gating: frozenset[str] | None = None) -> int:
    from harness.gate import delta

    report = _load_report(report_path)
    if report is None:
        return delta.HARNESS_ERROR
    d = _gate_delta(report, baselines, gating)
    print(delta.text(d))
    for path in delta.write(d, out, "gate"):
        print(f"wrote {path}")
    if d.exit_code == delta.FINDINGS:
        print("if the change is intended, accept it with `harness baseline update` and commit reports/baselines/")
    return d.exit_code


def _stability(paths: list[Path], baselines: Path, out: Path) -> int:
    from harness.files import write_atomic
    from harness.gate import delta, seeds

    runs = []
    for path in paths:
        file = path / "report.json" if path.is_dir() else path
        report = _load_report(file)
        if report is None:
            return delta.HARNESS_ERROR
        runs.append((str(file), report, _gate_delta(report, baselines)))
    rows, per_run = seeds.summarize(runs)
    shown = seeds.text(rows, per_run)
    print(shown)
    write_atomic(out / "stability.txt", shown + "\n")
    write_atomic(out / "stability.json", json.dumps(seeds.to_json(rows, per_run), indent=1, sort_keys=True))
    print(f"wrote {out / 'stability.txt'} and stability.json")
    return seeds.exit_code(per_run)


def _baseline_update(report_path: Path, baselines: Path, cases: Path) -> int:
    from harness.gate import baselines as baseline
    from harness.gate import delta, replay

    report = _load_report(report_path)
    if report is None:
        return delta.HARNESS_ERROR
    errors = delta.harness_errors(report)
    if errors:
        print("not accepting a run the harness could not complete:\n  " + "\n  ".join(errors), file=sys.stderr)
        return delta.HARNESS_ERROR
    for path in baseline.write(report, baselines):
        print(f"wrote {path} ({sum(1 for line in path.read_text().splitlines() if not line.startswith('#'))} findings)")
    for path in replay.write(report, cases):
        print(f"wrote {path}")
    return 0


def _diff(old: Path, new: Path, out: Path) -> int:
    from harness.gate import delta

    reports = [_load_report(old), _load_report(new)]
    if reports[0] is None or reports[1] is None:
        return delta.HARNESS_ERROR
    d = delta.diff_reports(reports[0], reports[1])
    print(delta.text(d))
    for path in delta.write(d, out, "upgrade"):
        print(f"wrote {path}")
    return d.exit_code


if __name__ == "__main__":
    sys.exit(main())
