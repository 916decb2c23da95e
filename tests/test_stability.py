"""Re-runs (harness/judge/stability.py) on scripted outcomes: a stand-in for the worker (no framework) plays memory
nothing wrote, which repeats itself when a call runs again right after itself and changes after other calls."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.cases.case import Case, Outcome
from harness.judge.stability import Judged, recheck
from harness.judge.verdicts import Verdict
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "losses" / "huber_loss.yaml")
BINDING = SPEC.binding("mindspore.nn.HuberLoss")


def _case(n: int) -> Case:
    x = np.arange(n, dtype="float32")
    return Case("huber_loss", {"input": x, "target": x}, {"reduction": "mean", "delta": 1.0})


class _Memory:
    """An empty mean gives whatever the last non-empty call left behind (its size); others give 0."""

    def __init__(self) -> None:
        self.left = 7.0

    def __call__(self, cases: list[Case]) -> list[Outcome | None]:
        out: list[Outcome | None] = []
        for c in cases:
            if c.size:
                self.left = float(c.size)
            out.append(Outcome(value=np.asarray(self.left if not c.size else 0.0, "float32"), dtype="float32"))
        return out


def _judged(case: Case, value: float, finding: bool) -> Judged:
    verdict = "value" if finding else "match"
    v = Verdict(BINDING, case, "values", verdict, verdict, verdict)
    return Judged(case, Outcome(value=np.asarray(value, "float32"), dtype="float32"), [v])


def test_memory_nothing_wrote_shows_after_other_calls() -> None:
    memory = _Memory()
    empty = _case(0)
    judged = [_judged(_case(4), 0.0, False), _judged(_case(6), 0.0, False), _judged(empty, 7.0, True)]
    # the plain re-runs repeat the garbage (nothing ran between): only the calls in between show it
    out = recheck(judged, memory, lambda cases: [Outcome(value=np.asarray(7.0, "float32"), dtype="float32")] * len(cases))
    assert [v.verdict for v in out[2].verdicts] == ["nondeterministic"]
    assert "after another call" in out[2].verdicts[0].message


def test_a_stable_result_on_empty_input_stays_what_it_was() -> None:
    judged = [_judged(_case(4), 0.0, False), _judged(_case(0), 0.0, True)]
    out = recheck(judged, lambda cases: [Outcome(value=np.asarray(0.0, "float32"), dtype="float32")] * len(cases),
                  lambda cases: [Outcome(value=np.asarray(0.0, "float32"), dtype="float32")] * len(cases))
    assert [v.verdict for v in out[1].verdicts] == ["value"]


class _Coin:
    """A call that crashes on a fixed schedule of its runs (True: the process dies), like a heap-corrupting call."""

    def __init__(self, schedule: list[bool]) -> None:
        self.schedule = list(schedule)
        self.calls = 0

    def __call__(self, cases: list[Case]) -> list[Outcome | None]:
        out: list[Outcome | None] = []
        for _ in cases:
            dies = self.schedule[self.calls % len(self.schedule)]
            self.calls += 1
            out.append(Outcome(crash="crash", error={"type": "WorkerDied", "message": "killed by signal SIGSEGV"}) if dies
                       else Outcome(value=np.asarray(0.0, "float32"), dtype="float32"))
        return out


def _crashed(case: Case) -> Judged:
    v = Verdict(BINDING, case, "values", "crash", "crash", "crash", message="WorkerDied: killed by signal SIGSEGV")
    return Judged(case, Outcome(crash="crash", error={"type": "WorkerDied", "message": "killed by signal SIGSEGV"}), [v])


def test_a_crash_that_comes_and_goes_is_a_crash_with_its_rate() -> None:
    coin = _Coin([False, True])  # the re-runs: clean, crash, clean, crash, ...
    out = recheck([_crashed(_case(3))], coin, coin, alone=coin)
    [v] = out[0].verdicts
    assert v.verdict == "crash"  # not `nondeterministic`: which run came first does not decide the verdict
    assert v.metrics == {"crash_rate": 0.6, "crash_runs": 5}
    assert v.message.startswith("crashed in 3 of 5 runs")


def test_a_clean_first_run_that_crashes_again_is_a_crash() -> None:
    case = _case(3)
    coin = _Coin([True, False, False, False])
    out = recheck([_judged(case, 1.0, True)], coin, coin, alone=coin)
    [v] = out[0].verdicts
    assert (v.verdict, v.metrics["crash_runs"]) == ("crash", 5)
    assert "the first run gave" in v.message


def test_an_accepted_crash_replay_runs_until_it_crashes_again() -> None:
    case = _case(3).with_(regression="abc", crashes=True)
    coin = _Coin([False] * 11 + [True])
    out = recheck([_judged(case, 0.0, False)], coin, coin, alone=coin)
    [v] = out[0].verdicts
    assert v.verdict == "crash" and v.metrics["crash_runs"] == 13  # first run, same worker, fresh, 9 clean alone, a crash


def test_a_crash_rate_without_fresh_processes_is_not_measured() -> None:
    coin = _Coin([False])
    out = recheck([_crashed(_case(3))], coin, coin)
    assert out[0].verdicts[0].metrics == {"crash_rate": 0.33, "crash_runs": 3}


def test_fresh_re_runs_go_to_the_fixed_cases_first_whatever_the_exploration_adds() -> None:
    fresh_seen: list[Case] = []

    def fresh(cases: list[Case]) -> list[Outcome | None]:
        fresh_seen.extend(cases)
        return [Outcome(value=np.asarray(0.0, "float32"), dtype="float32") for _ in cases]

    same = lambda cases: [Outcome(value=np.asarray(0.0, "float32"), dtype="float32") for _ in cases]  # noqa: E731
    core = [_judged(_case(k + 1), 0.0, True) for k in range(4)]
    for explored in (0, 10):
        fresh_seen.clear()
        extra = [_judged(_case(k + 10).with_(explored=True), 0.0, True) for k in range(explored)]
        recheck(core + extra, same, fresh, fresh_limit=4)
        assert [c.size for c in fresh_seen] == [2, 4, 6, 8]  # the four core suspects, in both runs
