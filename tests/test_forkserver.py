"""Workers forked from a fork server, through a FAKE framework adapter (tests/fake_framework.py), never a real one:
a forked worker answers like a started one, has no history of its siblings, and dies and is replaced as one."""
import os
import signal
import sys

import numpy as np
import pytest

from harness.run import wire
from harness.run.forkserver import Forked
from harness.run.pool import Pool

FAKE = "fake:tests.fake_framework"
THREE = (1.0, 2.0, 3.0)  # a size the fake treats as faulty


def _call(target, i, values=(1.0, 2.0)):
    return {"op": "call", "id": i, "target": f"fake.{target}", "kind": "function",
            "args": [wire.encode_array(np.array(values))]}


@pytest.fixture
def pool(tmp_path):
    p = Pool({FAKE: sys.executable}, timeout=5, log_dir=tmp_path / "logs")
    yield p
    p.close()


def test_workers_are_forked_and_answer(pool):
    worker = pool.get(FAKE)
    assert isinstance(worker._proc, Forked)
    (reply,) = worker.run([_call("ok", 1)])
    assert wire.decode_array(reply["value"]).tolist() == [2.0, 4.0]
    assert worker.info["pid"] == worker._proc.pid != os.getpid()


def test_a_fresh_worker_has_no_history_of_its_siblings(pool):
    # `flaky` fails the first time a process sees an input: every new process must fail it again
    worker = pool.get(FAKE)
    assert [("error" in r) for r in worker.run([_call("flaky", 1, THREE), _call("flaky", 2, THREE)])] == [True, False]
    for _ in range(2):
        fresh = pool.fresh(FAKE)
        try:
            assert fresh.info["pid"] != worker.info["pid"]
            assert [("error" in r) for r in fresh.run([_call("flaky", 3, THREE), _call("flaky", 4, THREE)])] == [True, False]
        finally:
            fresh.close()


def test_a_forked_worker_that_dies_is_reported_by_its_signal_and_replaced(pool):
    worker = pool.get(FAKE)
    first = worker.info["pid"]
    replies = worker.run([_call("segfault_always", 1), _call("ok", 2)])
    assert replies[0]["crash"] == "crash" and "SIGSEGV" in replies[0]["error"]["message"]
    assert wire.decode_array(replies[1]["value"]).tolist() == [2.0, 4.0]
    assert isinstance(worker._proc, Forked) and worker.info["pid"] != first


def test_a_killed_worker_reports_the_signal_that_killed_it(pool):
    worker = pool.fresh(FAKE)
    os.kill(worker._proc.pid, signal.SIGKILL)
    assert worker._proc.wait(timeout=10) == -signal.SIGKILL
    worker.close()


def _starts_the_slow_way(p: Pool) -> None:
    try:
        worker = p.get(FAKE)
        assert not isinstance(worker._proc, Forked)
        assert "error" not in worker.run([_call("ok", 1)])[0]
    finally:
        p.close()


def test_without_forking_workers_start_the_slow_way(tmp_path):
    _starts_the_slow_way(Pool({FAKE: sys.executable}, timeout=5, forking=False))


def test_a_fork_server_that_cannot_start_leaves_the_slow_way(tmp_path):
    # a "python" that runs a worker but no fork server: the server never says hello, workers still start
    stand_in = tmp_path / "worker-only-python"
    stand_in.write_text(f'#!/bin/sh\nif [ "$2" = harness.run.forkserver ]; then exit 3; fi\nexec "{sys.executable}" "$@"\n')
    stand_in.chmod(0o755)
    _starts_the_slow_way(Pool({FAKE: str(stand_in)}, timeout=5, log_dir=tmp_path / "logs"))
