"""Dtype names and conversions shared by the orchestrator; bfloat16 comes from ml_dtypes."""
from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)

_INFO = {
    "float16": np.finfo(np.float16),
    "bfloat16": ml_dtypes.finfo(ml_dtypes.bfloat16),
    "float32": np.finfo(np.float32),
    "float64": np.finfo(np.float64),
}


def numpy_dtype(name: str) -> np.dtype:
    return BFLOAT16 if name == "bfloat16" else np.dtype(name)


_NAMES: dict[np.dtype, str] = {}


def name(a: Any) -> str:
    dtype = a.dtype if isinstance(a, np.ndarray) else np.asarray(a).dtype
    found = _NAMES.get(dtype)
    if found is None:  # numpy computes `dtype.name` anew each time, slowly
        found = _NAMES[dtype] = dtype.name
    return found


def is_float(name_: str) -> bool:
    return name_ in _INFO


_EPS = {k: float(v.eps) for k, v in _INFO.items()}
_TINY = {k: float(v.tiny) for k, v in _INFO.items()}
_MAX = {k: float(v.max) for k, v in _INFO.items()}


def eps(name_: str) -> float:
    """Machine epsilon of a float dtype (float64's for anything else)."""
    return _EPS.get(name_, _EPS["float64"])


def tiny(name_: str) -> float:
    """Smallest positive normal of a float dtype."""
    return _TINY.get(name_, _TINY["float64"])


def max_value(name_: str) -> float:
    return _MAX.get(name_, _MAX["float64"])


def to_float64(a: Any) -> np.ndarray:
    return np.asarray(a).astype(np.float64)


def widened(env: dict[str, Any]) -> dict[str, Any]:
    """The env with every float array in float64: references are evaluated on the very values the framework
    received, without the input dtype's rounding in the arithmetic."""
    return {k: (to_float64(v) if isinstance(v, np.ndarray) and is_float(name(v)) else v) for k, v in env.items()}


def cast(values: Any, name_: str) -> np.ndarray:
    """Round float64 values to a dtype (overflow gives inf, as a framework would)."""
    with np.errstate(all="ignore"):
        return np.asarray(values).astype(numpy_dtype(name_))
