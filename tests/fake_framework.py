"""A FAKE framework adapter, for fault-injection tests only: it misbehaves on purpose.

The target names say what happens: `fake.ok` returns its first argument doubled, `fake.abort`
kills the process, `fake.hang` never returns, `fake.wrong_shape` returns a different shape,
`fake.not_array` returns a string, `fake.html_error` raises with markup in the message.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from harness import wire
from harness.frameworks.base import Adapter as Base


class Adapter(Base):
    name = package = "fake"

    def version(self) -> str:
        return "0.0-fake"

    def call(self, request: dict[str, Any]) -> tuple[dict[str, Any], str]:
        what = request["target"].rsplit(".", 1)[-1]
        x = wire.decode_array(request["args"][0])
        if what == "abort":
            os.abort()
        if what == "hang":
            time.sleep(3600)
        if what == "not_array":
            raise TypeError("returned str, not a tensor")
        if what == "html_error":
            raise ValueError("<script>alert(1)</script>\x1b[31m" + "x" * 100_000)
        if what == "wrong_shape":
            x = np.concatenate([x.ravel(), [0.0]])
        return wire.encode_array(x * 2), x.dtype.name

    def signature(self, target: str, kind: str) -> dict[str, Any]:
        return {"params": [["input", None, False]], "call": None}
