"""The pipe protocol between the orchestrator and a framework worker.

Messages are length-prefixed pickles of plain Python values only (dicts, lists, str, bytes,
numbers), so the two sides may run different numpy versions. Arrays travel as raw bytes with
a logical dtype name; bfloat16 travels widened to float32 (exact) because numpy has no bfloat16.
This module must import with nothing but the standard library and numpy.
"""
from __future__ import annotations

import pickle
import re
import struct
from typing import Any, BinaryIO

import numpy as np

_HEADER = struct.Struct("<Q")
MAX_MESSAGE = 1 << 31
MAX_TEXT = 20_000  # characters of a framework's message kept in replies and reports
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str, limit: int = MAX_TEXT) -> tuple[str, bool]:
    """Framework text made safe to show anywhere: control characters (ANSI escapes, bells) spelled
    out as `\\xNN`, and at most `limit` characters. Returns the text and whether it was cut."""
    cut = len(text) > limit
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text[:limit])
    return text, cut


_NAMES: dict[Any, str] = {}  # numpy computes `dtype.name` anew each time, slowly


def encode_array(a: Any, logical: str | None = None) -> dict[str, Any]:
    a = np.asarray(a)
    if not a.flags.c_contiguous:
        a = a.copy(order="C")
    stored = _NAMES.get(a.dtype) or _NAMES.setdefault(a.dtype, a.dtype.name)
    if stored == "bfloat16":  # orchestrator side: widen exactly
        a = a.astype(np.float32)
    return {"__array__": True, "dtype": logical or stored, "store": a.dtype.str, "shape": list(a.shape), "data": a.tobytes()}


def decode_array(d: dict[str, Any]) -> np.ndarray:
    """The stored array (bfloat16 arrives as float32; `d['dtype']` keeps the logical name)."""
    return np.frombuffer(d["data"], dtype=np.dtype(d["store"])).reshape(d["shape"]).copy()


def is_array(v: Any) -> bool:
    return isinstance(v, dict) and v.get("__array__") is True


def encode_scalar(v: Any) -> Any:
    """A numpy scalar as plain values (its type name and Python value), any other value as it is: the two
    sides' numpy versions may pickle scalars differently."""
    if isinstance(v, np.generic):
        return {"__scalar__": True, "dtype": type(v).__name__, "value": v.item()}
    return v


def decode_value(v: Any) -> Any:
    """A parameter as the framework gets it: an encoded numpy scalar made one again, anything else unchanged."""
    if isinstance(v, dict) and v.get("__scalar__") is True:
        return getattr(np, v["dtype"])(v["value"])
    return v


def send(stream: BinaryIO, message: Any) -> None:
    body = pickle.dumps(message, protocol=4)
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def receive(stream: BinaryIO) -> Any:
    """The next message, or None at end of stream."""
    head = _read_exact(stream, _HEADER.size)
    if head is None:
        return None
    (size,) = _HEADER.unpack(head)
    if size > MAX_MESSAGE:
        raise ValueError(f"message of {size} bytes exceeds the protocol limit")
    body = _read_exact(stream, size)
    if body is None:
        return None
    return pickle.loads(body)


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
