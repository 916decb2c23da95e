"""A FAKE framework adapter, for fault-injection and gate tests only: it misbehaves on purpose.

Its "tensors" are numpy arrays and it goes through the real adapter call path (`Adapter.call`).
A target `<anything>.<fault>` doubles its first argument, except that on a *faulty* input it
does what the fault's name says. An input is faulty when its size is a multiple of 3 (so one
binding mixes faulty and healthy cases), or always with the `_always` suffix
(e.g. `torch.fake.abort_always`).

Faults: ok, segfault, abort, hang, oom (allocate until the memory limit), bad_alloc (a native
allocation failure: message on stderr, then abort), html_error (HTML,
ANSI escapes and megabytes of text), unprintable (an exception whose str() raises), wrong_shape,
wrong_dtype, not_array, random (a different value on each call), flaky (an error the first time
an input is seen in a process only), deferred (returns, but the *next* call raises: an error
surfacing on a later call than the one that caused it, as asynchronous runtimes do), poison (returns
rightly, but every later call in the process aborts, as after heap corruption; the adapter says such a
call `retires` its worker, as paddle's does for its known heap-corrupting calls).

Versions, for the gate's test of a framework upgrade: the fake reports the version in $FAKE_VERSION
(default 0.0-fake), and the target `<anything>.drift` behaves by version: it doubles its input
correctly before 1.1; from 1.1 on, a float64 input with no nan or inf takes a new fast path whose
result is 1.5 times too large, while float32 and non-finite inputs stay right (one binding's result
changed in one region, as an upgrade can do).
"""
from __future__ import annotations

import ctypes
import os
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.run.frameworks.base import Adapter as Base

_state: dict[str, Any] = {"deferred": False, "seen": set(), "poisoned": False}
VERSION_VAR = "FAKE_VERSION"
DRIFTS_FROM = (1, 1)  # the first version whose `drift` is wrong (on finite float64 inputs)


def version() -> str:
    return os.environ.get(VERSION_VAR, "0.0-fake")


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("-")[0].split(".") if p.isdigit())


def _drift(input: np.ndarray, **kwargs: Any) -> Any:
    if input.dtype == np.float64 and np.isfinite(input).all() and _release(version()) >= DRIFTS_FROM:
        return input * 3
    return input * 2


def faulty(x: np.ndarray, always: bool) -> bool:
    return always or x.size % 3 == 0


def _segfault(x: np.ndarray) -> Any:
    ctypes.string_at(0)  # a read of address 0: SIGSEGV, as a native kernel bug would
    return x


def _abort(x: np.ndarray) -> Any:
    os.abort()


def _hang(x: np.ndarray) -> Any:
    time.sleep(3600)


def _oom(x: np.ndarray) -> Any:
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    if soft == resource.RLIM_INFINITY:  # never eat a shared machine's memory: the test must set a limit
        raise RuntimeError("fake oom refuses to run without a memory limit")
    hoard = []
    while True:
        hoard.append(np.ones(1 << 23))  # 64 MiB at a time, written so the pages are real


def _bad_alloc(x: np.ndarray) -> Any:
    # what a C++ kernel does when `new` fails: the runtime prints this and aborts
    os.write(2, b"terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc\n")
    os.abort()


def _html_error(x: np.ndarray) -> Any:
    raise ValueError("<script>alert(1)</script><img src=x onerror=alert(2)>\x1b[31mred\x1b[0m\x07"
                     + "x" * 3_000_000)


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str() of this exception fails")


def _unprintable(x: np.ndarray) -> Any:
    raise _Unprintable()


def _wrong_shape(x: np.ndarray) -> Any:
    return np.concatenate([x.ravel(), [0]]).astype(x.dtype) * 2


def _wrong_dtype(x: np.ndarray) -> Any:
    return (x * 2).astype(np.float16)


def _not_array(x: np.ndarray) -> Any:
    return "a string, not a tensor"


def _random(x: np.ndarray) -> Any:
    return x * 2 + np.random.default_rng().uniform(1, 2, x.shape).astype(x.dtype)


def _flaky(x: np.ndarray) -> Any:
    key = x.tobytes()
    if key not in _state["seen"]:
        _state["seen"].add(key)
        raise RuntimeError("first call with this input failed")
    return x * 2


def _deferred(x: np.ndarray) -> Any:
    _state["deferred"] = True
    return x * 2


def _poison(x: np.ndarray) -> Any:
    _state["poisoned"] = True
    return x * 2


FAULTS: dict[str, Callable[[np.ndarray], Any]] = {
    "segfault": _segfault, "abort": _abort, "hang": _hang, "oom": _oom, "bad_alloc": _bad_alloc, "html_error": _html_error,
    "unprintable": _unprintable, "wrong_shape": _wrong_shape, "wrong_dtype": _wrong_dtype,
    "not_array": _not_array, "random": _random, "flaky": _flaky, "deferred": _deferred, "poison": _poison,
}


def _function(name: str) -> Callable[..., Any]:
    if name == "drift":
        return _drift
    fault, always, _ = name.partition("_always")
    misbehave = FAULTS.get(fault)
    if fault != "ok" and misbehave is None:
        raise AttributeError(f"the fake framework has no {name!r}")

    def fn(input: np.ndarray, **kwargs: Any) -> Any:
        if _state["poisoned"]:
            os.abort()  # the heap an earlier call damaged
        if _state["deferred"]:
            _state["deferred"] = False
            raise RuntimeError("deferred error: an earlier call failed asynchronously")
        if misbehave is not None and faulty(input, bool(always)):
            return misbehave(input)
        return input * 2

    return fn


class NumpyTensors(Base):
    """An adapter whose tensors are numpy arrays (for test fixtures only)."""

    def to_tensor(self, a: np.ndarray, dtype: str) -> Any:
        return a

    def is_tensor(self, value: Any) -> bool:
        return isinstance(value, np.ndarray)

    def to_numpy(self, value: Any) -> tuple[np.ndarray, str]:
        return value, value.dtype.name


class Adapter(NumpyTensors):
    name = package = "fake"

    def version(self) -> str:
        return version()

    def resolve(self, target: str) -> Any:
        return _function(target.rsplit(".", 1)[-1])

    def retires(self, request: dict[str, Any]) -> bool:
        args = request.get("args") or []
        return str(request.get("target")).endswith(".poison") and bool(args) and faulty(
            np.zeros(int(np.prod(args[0]["shape"]))), False)
