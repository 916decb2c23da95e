"""The call floor: a batch of calls timed inside the framework's worker with nothing around them.

The benchmark's yardstick for harness overhead. Inputs are decoded and targets resolved before
the clock starts; what is timed is what any caller pays: the framework's tensor conversion, the
call (a class binding is constructed, as the harness does), and the output brought back to numpy
(which synchronizes). Runs in the worker, so it imports nothing beyond numpy and `wire`.
"""
from __future__ import annotations

import time
from typing import Any

from harness.run import wire


def _decoded(v: Any) -> Any:
    return (wire.decode_array(v), v["dtype"]) if wire.is_array(v) else wire.decode_value(v)


def measure(adapter: Any, requests: list[dict[str, Any]], repeat: int = 1, warm: bool = True) -> dict[str, Any]:
    """The fastest of `repeat` passes over the calls (after an untimed one with `warm`): seconds,
    and how many calls raised."""
    prepared = []
    for r in requests:
        fn = adapter.resolve(r["target"])
        prepared.append((fn, r["kind"] == "class", [_decoded(a) for a in r.get("args", [])],
                         {k: _decoded(v) for k, v in r.get("kwargs", {}).items()},
                         {k: _decoded(v) for k, v in r.get("init", {}).items()}))

    def tensor(v: Any) -> Any:
        return adapter.to_tensor(*v) if isinstance(v, tuple) else v

    best, errors = float("inf"), 0
    for attempt in range(0 if warm else 1, max(1, repeat) + 1):  # pass 0 warms caches (kernels per shape)
        errors = 0
        started = time.perf_counter()
        for fn, is_class, args, kwargs, init in prepared:
            try:
                f = fn(**{k: tensor(v) for k, v in init.items()}) if is_class else fn
                out = f(*[tensor(a) for a in args], **{k: tensor(v) for k, v in kwargs.items()})
                adapter.to_numpy(out)
            except Exception:  # an error is a call too: the framework's time to raise it counts
                errors += 1
        if attempt:
            best = min(best, time.perf_counter() - started)
    return {"floor_seconds": best, "calls": len(prepared), "errors": errors}
