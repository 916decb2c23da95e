"""Fault injection through a FAKE framework adapter (tests/fake_framework.py), never a real one."""
import os
import pickle
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest

from harness.run import wire
from harness.run.pool import Pool, Worker, parse_pythons

FAKE = "fake:tests.fake_framework"


def _call(target, i):
    return {"op": "call", "id": i, "target": f"fake.{target}", "kind": "function",
            "args": [wire.encode_array(np.array([1.0, 2.0]))]}


@pytest.fixture
def worker(tmp_path):
    w = Worker(FAKE, sys.executable, timeout=3, log_dir=tmp_path)
    yield w
    w.close()


def test_results_around_a_crash_are_kept(worker):
    replies = worker.run([_call("ok", 1), _call("abort_always", 2), _call("ok", 3), _call("ok", 4)])
    assert [r["id"] for r in replies] == [1, 2, 3, 4]
    assert wire.decode_array(replies[0]["value"]).tolist() == [2.0, 4.0]
    assert replies[1]["crash"] == "crash" and "SIGABRT" in replies[1]["error"]["message"]
    assert wire.decode_array(replies[2]["value"]).tolist() == [2.0, 4.0]
    # replaced once: the call the batch died on is charged with the crash, the calls after it sent again
    assert "error" not in replies[3] and worker.restarts == 1


def test_a_hang_becomes_a_timeout_and_the_run_goes_on(worker):
    replies = worker.run([_call("hang_always", 1), _call("ok", 2)])
    assert replies[0]["crash"] == "timeout"
    assert wire.decode_array(replies[1]["value"]).tolist() == [2.0, 4.0]


def test_errors_are_reported_whole_and_attributed(worker):
    replies = worker.run([_call("html_error_always", 1), _call("not_array_always", 2), _call("ok", 3)])
    assert replies[0]["error"]["type"] == "ValueError" and "<script>" in replies[0]["error"]["message"]
    assert replies[0]["error"]["truncated"] is True and len(replies[0]["error"]["message"]) < 21_000
    assert replies[1]["error"]["type"] == "TypeError"
    assert "error" not in replies[2]


def test_wrong_shape_is_returned_as_is_for_the_judge(worker):
    (reply,) = worker.run([_call("wrong_shape_always", 1)])
    assert wire.decode_array(reply["value"]).shape == (3,)


def test_a_framework_that_cannot_start_is_a_clear_error(tmp_path):
    pool = Pool({"torch": str(tmp_path / "no-such-python")}, log_dir=tmp_path)
    with pytest.raises(Exception) as err:
        pool.get("torch")
    assert "torch" in str(err.value)


def test_worker_settings_are_validated():
    assert parse_pythons("torch=/a/python, paddle=/b/python") == {"torch": "/a/python", "paddle": "/b/python"}
    with pytest.raises(ValueError, match="unknown framework 'tensorflow'"):
        parse_pythons("tensorflow=/x")
    with pytest.raises(ValueError, match="NAME=PYTHON"):
        parse_pythons("torch")


def test_a_call_that_retires_its_worker_is_answered_and_the_calls_after_it_run_in_a_fresh_one(worker):
    """The poison fault answers rightly and makes every later call of its process abort (heap damage); its adapter
    says it retires the worker, so the next calls run elsewhere and nobody is blamed for a crash."""
    three = {"op": "call", "id": 2, "target": "fake.poison", "kind": "function",
             "args": [wire.encode_array(np.array([1.0, 2.0, 3.0]))]}
    worker.run([_call("ok", 1)])
    before = worker.info["pid"]
    replies = worker.run([three, _call("poison", 3), _call("ok", 4)])
    assert [r["id"] for r in replies] == [2, 3, 4] and all("error" not in r for r in replies)
    assert wire.decode_array(replies[0]["value"]).tolist() == [2.0, 4.0, 6.0] and replies[0].get("retired")
    assert worker.restarts == 0 and worker.info["pid"] != before  # a new process, and no fault counted


def test_paddle_retires_its_worker_after_its_known_heap_corrupting_calls():
    from harness.run.frameworks.paddle_adapter import Adapter as Paddle

    def nll(label, **kw):
        return {"op": "call", "id": 1, "target": "paddle.nn.functional.nll_loss", "kind": "function",
                "args": [wire.encode_array(np.zeros((2, 3))), wire.encode_array(np.array(label))], "kwargs": kw}

    def ctc(lengths):
        return {"op": "call", "id": 1, "target": "paddle.nn.CTCLoss", "kind": "class", "init": {},
                "args": [wire.encode_array(np.zeros((4, 2, 3))), wire.encode_array(np.ones((2, 2), np.int64)),
                         wire.encode_array(np.array(lengths)), wire.encode_array(np.array([1, 1]))]}

    p = Paddle()
    assert p.retires(nll([0, -100])) and p.retires(nll([0, 2], ignore_index=2)) and not p.retires(nll([0, 2]))
    assert p.retires(ctc([5, 4])) and p.retires(ctc([-1, 4])) and not p.retires(ctc([4, 0]))
    assert not p.retires({"op": "floor", "requests": []})


class _Warns:
    """A stand-in adapter (no framework) whose call warns twice the same way, then returns or raises."""

    def __init__(self, fails: bool) -> None:
        self.fails = fails

    def call(self, request: dict) -> tuple[dict, str]:
        import warnings

        for _ in range(2):
            warnings.warn("a target of size (3, 1) is broadcast", UserWarning, stacklevel=1)
        if self.fails:
            raise ValueError("no")
        return {"shape": []}, "float32"

    def out_of_memory(self, exc: BaseException, message: str) -> bool:
        return False


def test_a_calls_python_warnings_come_back_with_its_reply_once_each_and_with_its_error() -> None:
    from harness.checks.warnings import kind
    from harness.run.worker import handle

    for fails in (False, True):
        reply = handle(_Warns(fails), {"op": "call", "id": 1})
        assert reply["warnings"] == ["UserWarning: a target of size (3, 1) is broadcast"]
        assert ("error" in reply) is fails
    assert kind("UserWarning: a target of size (3, 1) is broadcast") == "UserWarning: a target of size (…) is broadcast"


def _pipe() -> tuple[wire.Reader, Any]:
    read, write = os.pipe()
    return wire.Reader(os.fdopen(read, "rb")), os.fdopen(write, "wb")


def test_the_reader_gives_each_message_in_order_and_waits_for_a_message_split_across_writes():
    reader, out = _pipe()
    for i in range(3):
        wire.send(out, {"n": i})  # several messages in the pipe: one read takes them all
    assert [reader.next(1.0) for _ in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
    pickled = pickle.dumps({"n": 3})
    body = wire._HEADER.pack(len(pickled)) + pickled

    def halves() -> None:
        out.write(body[:5])
        out.flush()
        time.sleep(0.05)  # past the reader's naps: it blocks, and the second half wakes it
        out.write(body[5:])
        out.flush()

    threading.Thread(target=halves).start()
    assert reader.next(5.0) == {"n": 3}


def test_the_reader_times_out_without_a_whole_message_and_ends_on_eof_or_garbage():
    reader, out = _pipe()
    started = time.monotonic()
    assert reader.next(0.2) is TimeoutError
    assert 0.2 <= time.monotonic() - started < 2.0  # never before the deadline
    assert reader.next(0) is TimeoutError
    out.write(wire._HEADER.pack(10) + b"abc")  # a partial message, then the end: no message
    out.close()
    assert reader.next(1.0) is None
    garbled, out2 = _pipe()
    out2.write(wire._HEADER.pack(4) + b"\x00\x01\x02\x03")
    out2.flush()
    assert garbled.next(1.0) is None  # not a pickle: a dead worker, not an exception in the caller
    assert garbled.next(0) is None


class _Recorder:
    """A guard that admits every call and writes down when it was asked, beside the replies handed over."""

    def __init__(self, open_: bool) -> None:
        self.open_, self.events = open_, []

    def admit(self, request):
        self.events.append(("admit", request["id"]))
        return True

    def open(self):
        return self.open_

    def observe(self, request, reply):
        pass


@pytest.mark.parametrize("open_", [True, False])
def test_the_next_batch_is_sent_once_the_first_reply_is_in_and_only_when_the_guard_cannot_change_its_mind(worker, open_):
    from harness.run.pool import BATCH

    guard = _Recorder(open_)
    calls = [_call("ok", i) for i in range(2 * BATCH)]
    replies = worker.run(calls, guard, lambda i, reply: guard.events.append(("told", i)))
    assert [r["id"] for r in replies] == list(range(2 * BATCH))
    second = guard.events.index(("admit", BATCH))  # the second batch's first call put to the guard
    told_before = [e for e in guard.events[:second] if e[0] == "told"]
    # sent ahead: after the first batch's first reply, before the rest of it was judged; else after all of it
    assert len(told_before) == (0 if open_ else BATCH)


def test_a_crash_with_a_batch_sent_ahead_sends_that_batch_again_to_the_new_worker(worker):
    from harness.run.pool import BATCH

    calls = [_call("ok", i) for i in range(3 * BATCH)]
    calls[BATCH + 5] = _call("abort_always", BATCH + 5)  # in the second batch, while the third is sent ahead
    replies = worker.run(calls, _Recorder(True))
    assert [r["id"] for r in replies] == list(range(3 * BATCH))
    assert [r["id"] for r in replies if "error" in r] == [BATCH + 5] and replies[BATCH + 5]["crash"] == "crash"
    assert all(wire.decode_array(r["value"]).tolist() == [2.0, 4.0] for r in replies if "error" not in r)
    assert worker.restarts == 1
