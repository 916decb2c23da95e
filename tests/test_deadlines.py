"""The hang policy (a deadline learned per binding, the ceiling until then) and spare workers taking over
from dead ones, through the FAKE framework (tests/fake_framework.py)."""
import sys
import threading

import numpy as np
import pytest

from harness.run import wire
from harness.run.deadline import FLOOR, Ledger, key
from harness.run.pool import Pool, Worker

FAKE = "fake:tests.fake_framework"


def _call(target, i, values=(1.0, 2.0)):
    return {"op": "call", "id": i, "target": f"fake.{target}", "kind": "function",
            "args": [wire.encode_array(np.array(values))]}


def test_nothing_learned_means_the_ceiling():
    limit, why = Ledger().deadline([_call("ok", 1)], 60.0)
    assert limit == 60.0 and "ceiling" in why and "no call" in why


def test_a_learned_deadline_scales_with_the_slowest_call_and_the_batch():
    ledger = Ledger()
    ledger.learn([{"id": 1, "seconds": 0.001}, {"id": 2, "seconds": 0.05}, {"id": 3, "seconds": 9.0, "crash": "crash"}])
    assert ledger.slowest == 0.05 and ledger.calls == 3
    assert ledger.deadline([_call("ok", 1)], 60.0)[0] == pytest.approx(5.0)
    limit, why = ledger.deadline([_call("ok", i) for i in range(8)], 60.0)
    assert limit == pytest.approx(5.0 + 7 * 0.5) and "7 more calls" in why and why.startswith("learned")
    ledger.learn([{"id": 4, "seconds": 0.4}])
    limit, why = ledger.deadline([_call("ok", i) for i in range(32)], 60.0)
    assert limit == 60.0 and "ceiling" in why


def test_the_floor_holds_for_fast_bindings():
    ledger = Ledger()
    ledger.learn([{"id": 1, "seconds": 1e-5}])
    assert ledger.deadline([_call("ok", 1)], 60.0)[0] == FLOOR


def test_a_call_that_hung_never_gets_the_ceiling_again():
    ledger = Ledger()
    hung = _call("hang_always", 7)
    ledger.timed_out([hung], 60.0)
    again = dict(hung, id=99)  # the same case sent again (a re-check)
    assert key(again) == key(hung) and key(_call("hang_always", 7, (3.0,))) != key(hung)
    limit, why = ledger.deadline([again], 60.0)
    assert limit == FLOOR and "hung before" in why
    assert ledger.deadline([_call("ok", 8)], 60.0)[0] == 60.0  # another call: nothing learned yet
    assert ledger.timeouts == 1 and ledger.waited_seconds == 60.0


@pytest.fixture
def worker(tmp_path):
    w = Worker(FAKE, sys.executable, timeout=30, log_dir=tmp_path)
    yield w
    w.close()


def test_a_hang_after_answers_waits_the_learned_deadline_and_says_so(worker):
    replies = worker.run([_call("hang", 1), _call("hang", 2, (5.0,))])  # sizes 2 and 1: no hang
    assert all("error" not in r for r in replies)
    (hang,) = worker.run([_call("hang", 3, (1.0, 2.0, 3.0))])
    assert hang["crash"] == "timeout" and hang["seconds"] == FLOOR  # not the 30 s ceiling
    assert f"no answer within {FLOOR:g} s (deadline: learned: 100 x" in hang["error"]["message"]
    ledger = worker.ledger("fake.hang")
    assert ledger.timeouts == 1 and ledger.restarts == 1


def test_a_call_that_hangs_in_a_batch_is_charged_at_once_and_the_rest_still_answer(tmp_path):
    w = Worker(FAKE, sys.executable, timeout=4, log_dir=tmp_path)
    try:
        # one binding: the first call's streamed reply sets the learned deadline, which the hung call outlasts
        replies = w.run([_call("hang", 1, (1.0, 2.0)), _call("hang", 2, (1.0, 2.0, 3.0)), _call("hang", 3, (1.0,))])
    finally:
        w.close()
    assert [r.get("crash") for r in replies] == [None, "timeout", None]
    assert replies[1]["seconds"] == FLOOR and "learned" in replies[1]["error"]["message"]
    ledger = w.ledger("fake.hang")
    assert ledger.timeouts == 1 and ledger.calls == 2  # one wait: no replay of the hung call alone
    assert ledger.waited_seconds < 2 * 4  # the batch's deadline once, not a replay's on top


def test_a_dead_worker_is_replaced_by_the_ready_spare(tmp_path):
    pool = Pool({FAKE: sys.executable}, timeout=30, log_dir=tmp_path, spares=True)
    try:
        started_here = []  # workers started in the caller's thread rather than in the background
        new = pool._new

        def recording(framework):
            w = new(framework)
            if threading.current_thread() is threading.main_thread():
                started_here.append(w.info["pid"])
            return w
        pool._new = recording
        worker = pool.get(FAKE)
        pool._spares[FAKE].result()
        replies = worker.run([_call("abort", 1), _call("abort", 2, (1.0, 2.0, 3.0)), _call("abort", 3)])
        assert replies[1]["crash"] == "crash" and "SIGABRT" in replies[1]["error"]["message"]
        assert "error" not in replies[0] and "error" not in replies[2]
        # replaced once (the call that died is charged at once), by the spare started with the pool
        assert worker.restarts == 1 and pool.ledgers["fake.abort"].restarts == 1
        assert started_here == [started_here[0]] and worker.info["pid"] != started_here[0]  # only the first was waited for
        assert worker.run([_call("abort", 4)])[0]["value"] is not None
        assert worker.run([_call("abort", 5, (1.0, 2.0, 3.0))])[0]["crash"] == "crash"  # and a second death
        assert worker.restarts == 2 and worker.run([_call("abort", 6)])[0]["value"] is not None
    finally:
        pool.close()


def test_without_spares_a_restart_starts_one_for_the_next_death(tmp_path):
    pool = Pool({FAKE: sys.executable}, timeout=30, log_dir=tmp_path)
    try:
        worker = pool.get(FAKE)
        assert FAKE not in pool._spares
        worker.run([_call("segfault_always", 1)])
        worker.run([_call("ok", 2)])  # the first replacement, started on the spot; a spare is started behind it
        assert FAKE in pool._spares
        spare_pid = pool._spares[FAKE].result().info["pid"]
        (crash,) = worker.run([_call("segfault_always", 3)])
        assert crash["crash"] == "crash" and "SIGSEGV" in crash["error"]["message"]
        worker.run([_call("ok", 4)])
        assert worker.info["pid"] == spare_pid
    finally:
        pool.close()
