"""A framework worker: runs in the framework's own environment and answers calls over a pipe.

Started as `python -m harness.worker FRAMEWORK [MEMORY_LIMIT_BYTES]`. It imports only the
standard library, numpy, `wire` and one adapter, so the framework's environment needs nothing else
from the harness. Framework output to stdout is moved to stderr so it can never corrupt the
protocol. The memory limit (RLIMIT_DATA, which covers heap and anonymous mappings) is set before the
framework's first call (before its import here, after it in a worker forked by forkserver.py), so an
allocation beyond it fails inside the framework: a `memory` reply.
"""
from __future__ import annotations

import os
import resource
import sys
import time
import traceback
import warnings
from typing import Any

from harness.run import wire
from harness.run.frameworks import adapter_for


def _error(exc: BaseException) -> dict[str, Any]:
    try:
        message = str(exc)
    except Exception as inner:  # an exception whose str() fails is still the framework's error
        message = f"<str() of {type(exc).__name__} failed: {type(inner).__name__}>"
    text, cut = wire.clean_text(message)
    return {"type": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__],
            "message": text, "truncated": cut}


WARNINGS_KEPT = 4  # distinct warnings kept per call
WARNING_CHARS = 300


def _warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """The call's Python warnings, "Category: message", distinct, in the order raised."""
    out: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {wire.clean_text(str(w.message))[0][:WARNING_CHARS]}"
        if text not in out:
            out.append(text)
    return out[:WARNINGS_KEPT]


def limit_memory(limit: int) -> None:
    """Cap this process's data size; a framework then fails its allocation instead of the machine."""
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


UNSYNCHRONIZED = "HARNESS_UNSYNCHRONIZED"  # set (to 1): the framework keeps its default asynchronous launches


def prepare(framework: str) -> tuple[Any, float]:
    """The framework's adapter, imported and set up, and the seconds that took."""
    adapter = adapter_for(framework)
    adapter.synchronized = os.environ.get(UNSYNCHRONIZED) != "1"
    started = time.perf_counter()
    adapter.setup()
    return adapter, time.perf_counter() - started


def serve(framework: str, adapter: Any, stdin: Any, stdout: Any, startup: float) -> None:
    """Answer calls until the stream ends (the adapter set up by `prepare`, here or in a fork server)."""
    wire.send(stdout, {"op": "hello", "framework": framework, "version": adapter.version(),
                       "python": sys.version.split()[0], "numpy": adapter.numpy_version(),
                       "startup_seconds": startup, "pid": os.getpid()})
    while True:
        message = wire.receive(stdin)
        if message is None or message.get("op") == "exit":
            return
        if message.get("op") == "batch":  # each call's reply as it is done: a hang or a crash names its call (pool.Worker.run)
            for r in message["calls"]:
                retire = adapter.retires(r)
                wire.send(stdout, {"op": "reply", "reply": handle(adapter, r) | ({"retired": True} if retire else {})})
                if retire:  # the call's heap damage must not be blamed on the calls after it (see Adapter.retires)
                    os._exit(0)  # its reply is out: wire.send flushes
        else:
            wire.send(stdout, handle(adapter, message))


def handle(adapter: Any, request: dict[str, Any]) -> dict[str, Any]:
    reply: dict[str, Any] = {"id": request.get("id")}
    started = time.perf_counter()
    try:
        if request["op"] == "signature":
            reply.update(adapter.signature(request["target"], request["kind"]))
        elif request["op"] == "call":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")  # every call's own, not once per place in the framework's code
                try:
                    value, dtype = adapter.call(request)
                    reply.update(value=value, dtype=dtype)
                finally:
                    if caught:
                        reply["warnings"] = _warnings(caught)
        elif request["op"] == "after":
            reply.update(after(adapter, request))
        elif request["op"] == "grad":
            reply.update(adapter.grad(request))
        elif request["op"] == "floor":  # the benchmark's yardstick (harness/bench.py)
            from harness.run.floor import measure

            reply.update(measure(adapter, request["requests"], request.get("repeat", 1), request.get("warm", True)))
        else:
            raise ValueError(f"unknown op {request['op']!r}")
    except Exception as exc:  # the framework's error is the measurement, not a worker failure
        reply["error"] = _error(exc)
        if adapter.out_of_memory(exc, reply["error"]["message"]):
            reply["crash"] = "memory"
        if request.get("traceback"):
            reply["error"]["traceback"] = traceback.format_exc()[-4000:]
    reply["seconds"] = time.perf_counter() - started
    return reply


def after(adapter: Any, request: dict[str, Any]) -> dict[str, Any]:
    """`first` called without reading its result, then each of `then` called as usual while that result is still
    held (a program that does not read its loss), then whatever is still running waited for: where its error lands."""
    first: dict[str, Any] = {}
    held = None
    try:
        held = adapter.launch(request["first"])
    except Exception as exc:
        first["error"] = _error(exc)
    replies = [handle(adapter, r) for r in request["then"]]
    settled: dict[str, Any] = {}
    try:
        adapter.settle()
    except Exception as exc:
        settled["error"] = _error(exc)
    del held
    return {"first": first, "then": replies, "settled": settled}


def main() -> None:
    framework = sys.argv[1]
    if len(sys.argv) > 2:
        limit_memory(int(sys.argv[2]))
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the framework prints goes to stderr
    sys.stdout = sys.stderr
    adapter, startup = prepare(framework)
    serve(framework, adapter, sys.stdin.buffer, protocol_out, startup)
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: a framework's takes seconds, and there is nothing to save


if __name__ == "__main__":
    main()
