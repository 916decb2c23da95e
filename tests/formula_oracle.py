"""The escape and bound oracle that the formula fuzzers (hypothesis and atheris) share.

A formula *escapes* when, while it is checked or evaluated, Python does something a formula must
never cause (any audit event: open, import, exec, subprocess, os.*, ctypes, getattr on frames or
code...), or when it hands back anything but data (a function, module, type, object). It is
*unbounded* when one evaluation takes more than TIME_LIMIT seconds or peaks above MEMORY_LIMIT
bytes of traced allocations. Rejections (FormulaError) and data-level failures (a formula that
divides a string, indexes out of range, ...) are fine: the reference reports those as notes.
"""
from __future__ import annotations

import sys
import time
import tracemalloc
from typing import Any

import numpy as np

from harness.spec.formula import MAX_WORK, FormulaError, parse

VARIABLES = {"x", "y", "beta", "reduction", "n", "s"}
TIME_LIMIT = 10.0  # seconds; the interpreter's own bound is far lower (MAX_WORK elements of numpy work)
MEMORY_LIMIT = MAX_WORK * 8 * 2  # bytes: the work budget in float64, with room for numpy's temporaries

_events: list[tuple[str, str]] = []
_recording = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording[0]:
        _events.append((event, repr(args)[:200]))


sys.addaudithook(_audit)  # hooks cannot be removed; this one only records while a formula runs


def env() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {"x": rng.standard_normal((3, 4)).astype(np.float32), "y": rng.standard_normal((3, 4)),
            "beta": 1.0, "reduction": "mean", "n": 3, "s": "abc"}


_DATA = (int, float, complex, bool, str, type(None), slice, np.generic)


def is_data(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if isinstance(value, _DATA):
        return True
    if isinstance(value, (tuple, list)):
        return all(is_data(v, depth + 1) for v in value)
    if isinstance(value, np.ndarray):
        return value.dtype.kind != "O" or all(is_data(v, depth + 1) for v in value.ravel()[:1000])
    return False


def check(source: str, condition: bool = False) -> str:
    """'rejected', 'failed' (a data-level error) or 'value'; AssertionError on an escape or a broken bound."""
    _events.clear()
    try:
        formula = parse(source, VARIABLES, condition=condition)
    except FormulaError:
        return "rejected"
    # ast.parse itself raises the "compile" audit event; everything after it must raise none
    values = env()
    _events.clear()
    tracemalloc.start()
    _recording[0] = True
    started = time.perf_counter()
    outcome, value = "value", None
    try:
        value = formula.evaluate(values)
    except MemoryError:
        raise AssertionError(f"evaluation ran out of memory: {source!r}") from None
    except Exception:
        outcome = "failed"
    finally:
        elapsed = time.perf_counter() - started
        _recording[0] = False
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert not _events, f"audit events {_events[:5]} while evaluating {source!r}"
    assert elapsed < TIME_LIMIT, f"evaluation took {elapsed:.1f} s: {source!r}"
    assert peak < MEMORY_LIMIT, f"evaluation peaked at {peak / 1e6:.0f} MB: {source!r}"
    assert outcome == "failed" or is_data(value), f"evaluation handed back {type(value)!r}: {source!r}"
    return outcome
