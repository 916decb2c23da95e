"""A binding documented to return a tuple names the position of its result (`output_index`)."""
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness import wire
from harness.case import Case
from harness.frameworks.base import Adapter as Base
from harness.runner import build_request
from harness.spec import load_spec


class _NumpyAdapter(Base):
    """numpy arrays stand in for tensors; the target returns (loss, auxiliary), as mindspore.ops.ctc_loss does."""

    def resolve(self, target: str) -> Any:
        return lambda x: (x * 2, np.zeros(3))

    def to_tensor(self, a: np.ndarray, dtype: str) -> Any:
        return a

    def is_tensor(self, value: Any) -> bool:
        return isinstance(value, np.ndarray)

    def to_numpy(self, value: Any) -> tuple[np.ndarray, str]:
        return value, value.dtype.name


def _request(**extra: Any) -> dict[str, Any]:
    return {"op": "call", "id": 1, "target": "x.f", "kind": "function", "kwargs": {},
            "args": [wire.encode_array(np.array([1.0, 2.0]))], **extra}


def test_the_documented_tuple_position_is_taken_and_a_bare_tuple_is_still_refused():
    value, dtype = _NumpyAdapter().call(_request(output=0))
    assert wire.decode_array(value).tolist() == [2.0, 4.0] and dtype == "float64"
    with pytest.raises(TypeError, match="tuple"):
        _NumpyAdapter().call(_request())


_SPEC = """
api: tuple_result
title: tuple result
inputs:
  input: {dtypes: [float64], shape: [2]}
formula: |
  result = input
frameworks:
  mindspore:
    bindings:
      - {target: mindspore.ops.f, kind: function, signature: "(input)", output_index: 0}
      - {target: mindspore.ops.g, kind: function, signature: "(input)"}
"""


def test_build_request_carries_the_output_index_of_the_binding_only():
    spec = load_spec(Path("tuple_result.yaml"), _SPEC)
    case = Case(spec.api, {"input": np.array([1.0, 2.0])}, {})
    assert build_request(spec.binding("mindspore.ops.f"), case, 1)["output"] == 0
    assert "output" not in build_request(spec.binding("mindspore.ops.g"), case, 2)
