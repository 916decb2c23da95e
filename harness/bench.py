"""The benchmark: what the harness costs beyond the frameworks' own call time.

`python -m harness.bench --workers NAME=PYTHON,...` (or `nox -s bench`) prints one table and
writes reports/bench.json. Per framework:
- start-up: spawning the worker until it answers (import and setup of the framework);
- fixed set: every spec's drawn cases on every binding of the framework; `raw` is the same calls
  timed inside the worker with nothing around them (harness/floor.py), `harness` is the
  orchestrator's whole path for them (requests, pipe, reference, judging; each case's reference evaluated
  once for all of a spec's bindings, as a run evaluates it), and their ratio;
- by count: small SmoothL1Loss cases, 1k to 100k, through the full binding run (generation timed
  apart: it is shared by every binding of a spec);
- by size: one SmoothL1Loss call per tensor size, from 16 elements to a million;
- peak RSS of each worker process and of the orchestrator.
What runs is fixed by the seed and the sizes; only the clock varies (the load average is recorded).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.cases import generate
from harness.cases.case import Case
from harness.files import write_atomic
from harness.report import costs
from harness.run.pipeline import Config, SpecRun, TargetRunner, build_request, settle_heap
from harness.run.pool import ENV_VAR, Pool, discover, parse_pythons
from harness.spec.model import BindingView, Spec, load_all

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "harness-bench/1"
SCALE_API = "smooth_l1_loss"  # the small-case workload of the call-floor figures
SMALL_CASE = 256  # elements: a drawn case at most this big counts as small
CHUNK = 2000  # floor requests per message
QUICK = {"counts": [100, 300], "sizes": [16, 4096], "max_examples": 20, "repeat": 1}
#: the largest by-count row per framework: mindspore's calls take ~1 ms and its errors ~10 ms, so
#: 100k of its cases would take most of an hour (--cap mindspore=100000 to run them anyway)
CAPS = {"mindspore": 10_000}
FULL = {"counts": [1000, 10_000, 100_000], "sizes": [16, 1024, 65_536, 1_048_576], "max_examples": 150, "repeat": 3}
#: the issue's targets: (name, limit, how a row is read)
LIMITS = {"ratio": 2.0, "mindspore_ratio": 1.15, "peak_rss_mb": 1536.0, "conformance_seconds": 180.0}
"""The Speed issue's targets: harness/raw on the fixed set (MindSpore's own calls are slow, so its bar is lower),
peak RSS per framework process, and a warm serial default run."""


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _function_binding(spec: Spec, framework: str) -> BindingView | None:
    bindings = [b for b in spec.bindings if b.framework == framework]
    return next((b for b in bindings if b.kind == "function"), bindings[0] if bindings else None)


class Bench:
    def __init__(self, pythons: dict[str, str], specs: list[Spec], args: argparse.Namespace) -> None:
        self.pythons, self.specs, self.args = pythons, specs, args
        self.pool = Pool(pythons, timeout=args.case_timeout)
        self.by_api = {s.api: s for s in specs}
        self.out: dict[str, Any] = {"schema": SCHEMA, "frameworks": {}, "generation": [], "fixed": [],
                                    "by_count": [], "by_size": []}

    def floor(self, framework: str, requests: list[dict[str, Any]], repeat: int, warm: bool = True) -> float:
        """Seconds the worker takes for the calls with nothing around them (chunked messages)."""
        worker, total = self.pool.get(framework), 0.0
        for i in range(0, len(requests), CHUNK):
            (reply,) = worker.run([{"op": "floor", "id": -1, "requests": requests[i:i + CHUNK], "repeat": repeat,
                                    "warm": warm}])
            if "floor_seconds" not in reply:
                raise RuntimeError(f"{framework} floor measurement failed: {reply.get('error')}")
            total += reply["floor_seconds"]
        return total

    def harness(self, run: SpecRun, judged: list[tuple[BindingView, list[Case]]], repeat: int) -> float:
        """Fastest of `repeat` passes of the orchestrator's path for each binding's cases, one after another. Each
        pass evaluates the references anew, once for all the bindings: a run judges every binding of a spec against
        the same reference of a case, so a run of this framework alone pays for it once."""
        best = float("inf")
        for _ in range(repeat):
            run._refs.clear()
            best = min(best, sum(_timed(lambda: TargetRunner(run, b, self.pool).judge_cases(cases))[1]
                                 for b, cases in judged))
        return best

    def startup(self) -> None:
        for fw in self.pythons:
            worker, seconds = _timed(lambda: self.pool.get(fw))
            self.out["frameworks"][fw] = {"version": worker.info.get("version"), "startup_seconds": seconds,
                                          "import_seconds": worker.info.get("startup_seconds")}

    def fixed(self) -> None:
        config = Config(seed=self.args.seed, max_examples=self.args.max_examples)
        runs = []
        for spec in self.specs:
            run, seconds = _timed(lambda: SpecRun(spec, config))
            runs.append(run)
            self.out["generation"].append({"api": spec.api, "cases": len(run.cases), "seconds": seconds})
        settle_heap()  # as a run does between specs
        for fw in self.pythons:
            calls, raw, harness, left_out = 0, 0.0, 0.0, []
            for run in runs:
                judged = []
                for b in (b for b in run.spec.bindings if b.framework == fw):
                    # a call that kills or hangs the worker, or retires it (it damaged its heap: Adapter.retires), has
                    # no call time to compare, and the floor must not run it: both sides leave it out
                    replies = TargetRunner(run, b, self.pool).send([(c, {}) for c in run.cases])
                    cases = [c for c, r in zip(run.cases, replies)
                             if r is not None and not r.get("crash") and not r.get("retired")]
                    requests = [r for r in (build_request(b, c, i) for i, c in enumerate(cases)) if r is not None]
                    try:
                        binding_raw = self.floor(fw, requests, self.args.repeat)
                    except RuntimeError as exc:  # e.g. heap corruption of an earlier call surfacing later
                        left_out.append(f"{b.target}: {exc}"[:300])
                        continue
                    calls += len(requests)
                    raw += binding_raw
                    judged.append((b, cases))
                harness += self.harness(run, judged, self.args.repeat)
            self.out["fixed"].append(_row(fw, calls, raw, harness) | ({"left_out": left_out} if left_out else {}))

    def by_count(self) -> None:
        spec = self.by_api.get(SCALE_API)
        if spec is None:
            return
        for n in self.args.counts:
            run = SpecRun(spec, Config(seed=self.args.seed, max_examples=0))
            run.cases, gen = _timed(lambda: small_cases(spec, n, self.args.seed))
            for fw in self.pythons:
                b = _function_binding(spec, fw)
                if b is None or n > self.args.caps.get(fw, n):
                    continue
                requests = [r for r in (build_request(b, c, i) for i, c in enumerate(run.cases)) if r is not None]
                # one pass; the first count warms the shapes all counts share (each count extends the last)
                raw = self.floor(fw, requests, 1, warm=n == self.args.counts[0])
                run._refs.clear()
                result, harness = _timed(lambda: TargetRunner(run, b, self.pool).execute())
                row = _row(fw, len(requests), raw, harness)
                row.update(cases=n, target=b.target, all_calls=result.calls, generation_seconds=gen,
                           per_case_us=1e6 * (harness + gen) / max(1, n))
                self.out["by_count"].append(row)

    def by_size(self) -> None:
        spec = self.by_api.get(SCALE_API)
        if spec is None:
            return
        run = SpecRun(spec, Config(seed=self.args.seed, max_examples=0))
        rng = np.random.default_rng(self.args.seed)
        for size in self.args.sizes:
            calls = max(5, min(200, 4_000_000 // size))
            cases = [Case(spec.api, {"input": rng.uniform(-8, 8, size).astype(np.float32),
                                     "target": rng.uniform(-8, 8, size).astype(np.float32)},
                          {"reduction": "mean", "beta": 1.0}) for _ in range(calls)]
            for fw in self.pythons:
                b = _function_binding(spec, fw)
                if b is None:
                    continue
                requests = [r for r in (build_request(b, c, i) for i, c in enumerate(cases)) if r is not None]
                row = _row(fw, len(requests), self.floor(fw, requests, self.args.repeat),
                           self.harness(run, [(b, cases)], self.args.repeat))
                row["elements"] = size
                self.out["by_size"].append(row)

    def memory(self) -> None:
        for fw, worker in self.pool.workers.items():
            self.out["frameworks"][fw]["peak_rss_mb"] = _peak_rss_mb(worker.info.get("pid"))
            self.out["frameworks"][fw]["restarts"] = worker.restarts
        self.out["orchestrator"] = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                    "import_seconds": _import_seconds()}

    def conformance(self) -> None:
        """A whole default `harness run` (warm: environments exist), timed from outside."""
        with tempfile.TemporaryDirectory() as tmp:
            cmd = conformance_command(self.pythons, tmp)
            proc, seconds = _timed(lambda: subprocess.run(cmd, cwd=ROOT, capture_output=True))
            report = Path(tmp) / "report.json"
            run_targets = json.loads(report.read_text())["targets"] if report.exists() else []
        imports = {fw: i["startup_seconds"] for fw, i in self.out["frameworks"].items()}
        self.out["conformance"] = {"seconds": seconds, "exit_code": proc.returncode, "command": " ".join(cmd),
                                   "story": costs.story(run_targets, seconds, imports)}


def conformance_command(pythons: dict[str, str], report_dir: str, *specs: str) -> list[str]:
    """The whole default `harness run` the benchmark times (all specs unless `specs` names some). No terminal
    plugin, so no `-q`: pytest would reject it and exit 4 at once, which is no run."""
    workers = ",".join(f"{k}={v}" for k, v in pythons.items())
    return [sys.executable, "-m", "harness.cli", "run", "--workers", workers, "-p", "no:terminal",
            "--report-dir", report_dir, *specs]


def small_cases(spec: Spec, n: int, seed: int) -> list[Case]:
    """The first `n` drawn cases of at most SMALL_CASE elements (the same ones for a seed)."""
    drawn = generate.iter_cases(generate.all_cases(spec, elementwise=0), seed)
    return list(itertools.islice((c for c in drawn if c.size <= SMALL_CASE), n))


def _row(fw: str, calls: int, raw: float, harness: float) -> dict[str, Any]:
    return {"framework": fw, "calls": calls, "raw_seconds": raw, "harness_seconds": harness,
            "ratio": harness / raw if raw else None, "cases_per_second": calls / harness if harness else None,
            "raw_cases_per_second": calls / raw if raw else None}


def _peak_rss_mb(pid: int | None) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _import_seconds() -> float:
    """The orchestrator's own start-up: importing the harness (pytest plugin, hypothesis, numpy)."""
    return _timed(lambda: subprocess.run([sys.executable, "-c", "import harness.plugin"], cwd=ROOT, check=True))[1]


def targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the figure it is judged on."""
    rows = []
    for r in out["fixed"]:
        limit = LIMITS["mindspore_ratio"] if r["framework"] == "mindspore" else LIMITS["ratio"]
        rows.append({"target": f"{r['framework']} harness/raw (fixed set)", "value": r["ratio"], "limit": f"<= {limit}",
                     "met": r["ratio"] is not None and r["ratio"] <= limit})
    for fw, info in out["frameworks"].items():
        if info.get("peak_rss_mb") is not None:
            rows.append({"target": f"{fw} peak RSS MB", "value": info["peak_rss_mb"], "limit": f"<= {LIMITS['peak_rss_mb']:g}",
                         "met": info["peak_rss_mb"] <= LIMITS["peak_rss_mb"]})
    if "conformance" in out:
        s, code = out["conformance"]["seconds"], out["conformance"]["exit_code"]
        ran = code in (0, 1)  # 1: findings; anything else did not run everything, and a fast failure meets nothing
        rows.append({"target": "warm conformance run s" + ("" if ran else f" (exit {code}: not a run)"), "value": s,
                     "limit": f"<= {LIMITS['conformance_seconds']:g}", "met": ran and s <= LIMITS["conformance_seconds"]})
    return rows


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def table(out: dict[str, Any]) -> str:
    lines = [f"harness benchmark  seed {out['config']['seed']}  load average {out['machine']['loadavg_start']} -> "
             f"{out['machine']['loadavg_end']}  ({out['machine']['cpus']} cpus)"]
    lines.append("\nframework   version        start-up s  import s  peak RSS MB")
    for fw, i in out["frameworks"].items():
        lines.append(f"{fw:11s} {str(i.get('version')):14s} {_f(i['startup_seconds']):>10s} {_f(i['import_seconds']):>9s} "
                     f"{_f(i.get('peak_rss_mb')):>12s}")
    o = out.get("orchestrator", {})
    lines.append(f"{'harness':11s} {'(orchestrator)':14s} {_f(o.get('import_seconds')):>10s} {'':>9s} {_f(o.get('peak_rss_mb')):>12s}")
    lines.append("\ngeneration    cases  ms/case")
    for g in out["generation"]:
        lines.append(f"{g['api']:14s}{g['cases']:5d}  {_f(1e3 * g['seconds'] / max(1, g['cases']))}")
    head = f"{'framework':11s} {'calls':>7s} {'raw s':>8s} {'harness s':>9s} {'ratio':>6s} {'cases/s':>8s} {'raw/s':>8s}"

    def row(r: dict[str, Any]) -> str:
        return (f"{r['framework']:11s} {r['calls']:7d} {_f(r['raw_seconds']):>8s} {_f(r['harness_seconds']):>9s} "
                f"{_f(r['ratio']):>6s} {_f(r['cases_per_second']):>8s} {_f(r['raw_cases_per_second']):>8s}")

    lines.append("\nfixed set (every spec x binding, the conformance budget; calls that crash or hang left out)\n" + head)
    lines += [row(r) for r in out["fixed"]]
    lines += [f"  left out {r['framework']} {why}" for r in out["fixed"] for why in r.get("left_out", [])]
    lines.append(f"\nby count (small {SCALE_API} cases, full binding run; gen s shared by frameworks)\n"
                 f"{'cases':>7s} {head} {'gen s':>7s} {'us/case':>8s}")
    lines += [f"{r['cases']:7d} {row(r)} {_f(r['generation_seconds']):>7s} {_f(r['per_case_us']):>8s}" for r in out["by_count"]]
    lines.append(f"\nby tensor size ({SCALE_API}, float32, mean)\n{'elements':>9s} {head} {'raw us':>8s} {'harness us':>10s}")
    lines += [f"{r['elements']:9d} {row(r)} {_f(1e6 * r['raw_seconds'] / r['calls']):>8s} "
              f"{_f(1e6 * r['harness_seconds'] / r['calls']):>10s}" for r in out["by_size"]]
    if "conformance" in out:
        c = out["conformance"]
        lines.append(f"\nwarm conformance run: {c['seconds']:.1f} s (exit {c['exit_code']})")
        if c.get("story"):
            lines += costs.lines(c["story"])
    lines.append("\ntargets")
    lines += [f"  {'met ' if t['met'] else 'MISS'}  {t['target']:45s} {_f(t['value']):>9s}  {t['limit']}" for t in out["targets"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__.split("\n", 1)[0])
    p.add_argument("--workers", action="append", default=[], help=f"NAME=PYTHON[,...] (default: ${ENV_VAR})")
    p.add_argument("--frameworks", help="only these, comma-separated")
    p.add_argument("--quick", action="store_true", help=f"small sizes for a smoke run: {QUICK}")
    p.add_argument("--counts", help="case counts of the by-count rows, comma-separated (largest last)")
    p.add_argument("--sizes", help="tensor sizes of the by-size rows, comma-separated")
    p.add_argument("--cap", action="append", default=[], metavar="FW=N",
                   help=f"largest by-count row of a framework (default: {CAPS})")
    p.add_argument("--max-examples", type=int, help="cases per spec in the fixed set (default: the conformance budget)")
    p.add_argument("--repeat", type=int, help="passes per measurement; the fastest counts")
    p.add_argument("--seed", type=int, default=20261121)
    p.add_argument("--case-timeout", type=float, default=60.0)  # as `harness run`: a hang is not a call time
    p.add_argument("--conformance", action="store_true", help="also time a whole default `harness run`")
    p.add_argument("--story", metavar="REPORT_JSON", help="only print where an existing run's time went (its report.json; "
                   "the floor's imports are then measured here) and exit")
    p.add_argument("--specs", default=str(ROOT / "specs"))
    p.add_argument("--out", default=str(ROOT / "reports" / "bench.json"))
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL
    args.counts = [int(x) for x in args.counts.split(",")] if args.counts else preset["counts"]
    args.sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else preset["sizes"]
    args.max_examples = args.max_examples if args.max_examples is not None else preset["max_examples"]
    args.repeat = args.repeat or preset["repeat"]
    args.caps = {**CAPS, **{k: int(v) for k, _, v in (c.partition("=") for c in args.cap)}}
    pythons, _ = discover(parse_pythons(args.workers or os.environ.get(ENV_VAR, "")))
    if args.frameworks:
        pythons = {k: v for k, v in pythons.items() if k in args.frameworks.split(",")}
    if not pythons:
        print("no framework to benchmark: give --workers NAME=PYTHON", file=sys.stderr)
        return 2
    if args.story:
        return _story(Path(args.story), pythons, args)
    loaded = load_all(args.specs)
    bench = Bench(pythons, loaded.specs, args)
    out = bench.out
    out["config"] = {k: getattr(args, k) for k in ("seed", "counts", "caps", "sizes", "max_examples", "repeat", "quick")}
    out["machine"] = {"cpus": os.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()],
                      "python": platform.python_version(), "platform": platform.platform()}
    started = time.time()
    try:
        bench.startup()
        bench.fixed()
        bench.by_count()
        bench.by_size()
        bench.memory()
    finally:
        bench.pool.close()
    if args.conformance:
        bench.conformance()
    out["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out["seconds"] = time.time() - started
    out["targets"] = targets(out)
    write_atomic(Path(args.out), json.dumps(out, indent=1, sort_keys=True))
    print(table(out))
    print(f"\nwritten: {args.out}")
    return 0


def _story(path: Path, pythons: dict[str, str], args: argparse.Namespace) -> int:
    """Where an existing run's time went; its wall time is the report's own `seconds`."""
    report = json.loads(path.read_text())
    bench = Bench({k: v for k, v in pythons.items() if k in report.get("frameworks", pythons)}, [], args)
    try:
        bench.startup()
    finally:
        bench.pool.close()
    imports = {fw: i["startup_seconds"] for fw, i in bench.out["frameworks"].items()}
    print("\n".join(costs.lines(costs.story(report["targets"], float(report.get("seconds") or 0.0), imports))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
