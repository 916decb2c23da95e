"""Figures for the fault-injection suite: faults injected, survived, verdicts lost.

    python3 -m tests.fault_census [CASES]

Runs every fault binding of tests/data/faults/fake_double.yaml (the FAKE framework of
tests/fake_framework.py) through the real runner, as tests/test_faults.py does, and counts.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.cases.case import Case
from harness.run.pipeline import Config, SpecRun
from harness.run.pool import Pool

from .test_faults import EXPECTED, FAKE, MEMORY, SPEC, _by_case, _runner, injected

EXPECTED_ALL = {**EXPECTED, "wrong_dtype": ("dtype", ""), "deferred": ("nondeterministic", "")}


def main() -> None:
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    totals = {"injected": 0, "survived": 0, "healthy": 0, "intact": 0, "drawn": 0, "lost": 0}
    print(f"{'fault':12} {'cases':>5} {'faulty':>6} {'right':>5} {'intact':>6} {'lost':>4} {'seconds':>7}")
    for fault, (verdict, _) in EXPECTED_ALL.items():
        with tempfile.TemporaryDirectory() as tmp:
            pool = Pool({FAKE: sys.executable}, timeout=3 if fault == "hang" else 30, log_dir=Path(tmp), memory=MEMORY)
            started = time.perf_counter()
            try:
                run = SpecRun(SPEC, Config(max_examples=cases, shrink_budget=10))
                if fault == "deferred":  # each faulty call followed by a healthy one (see test_faults)
                    run.cases = [Case(SPEC.api, {"input": np.arange(n, dtype=np.float32)}, {})
                                 for n in [1, 3, 2] * (cases // 3)]
                runner = _runner(pool, fault)
                runner.run = run
                by_case = _by_case(runner)
            finally:
                pool.close()
            seconds = time.perf_counter() - started
        flags = injected(fault, [c for c, _ in by_case])
        bad = [vs for (c, vs), f in zip(by_case, flags) if f]
        good = [vs for (c, vs), f in zip(by_case, flags) if not f]
        check = "dtypes" if fault == "wrong_dtype" else "values"
        right = sum(any(v.check == check and v.verdict == verdict for v in vs) for vs in bad)
        intact = sum([v.verdict for v in vs] == ["match"] for vs in good)
        lost = sum(not vs for _, vs in by_case)
        print(f"{fault:12} {len(by_case):5} {len(bad):6} {right:5} {intact:6} {lost:4} {seconds:7.1f}")
        totals["injected"] += len(bad)
        totals["survived"] += right
        totals["healthy"] += len(good)
        totals["intact"] += intact
        totals["drawn"] += len(by_case)
        totals["lost"] += lost
    print(f"faults injected {totals['injected']}, got the right verdict {totals['survived']}; healthy cases "
          f"{totals['healthy']}, still matching {totals['intact']}; cases {totals['drawn']}, verdicts lost {totals['lost']}")


if __name__ == "__main__":
    main()
