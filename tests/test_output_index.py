"""A binding documented to return a tuple names the position of its result (`output_index`)."""
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.cases.case import Case
from harness.run import wire
from harness.run.pipeline import build_request
from harness.spec.model import load_spec

from .fake_framework import NumpyTensors


class _NumpyAdapter(NumpyTensors):
    """numpy arrays stand in for tensors; the target returns (loss, auxiliary), as mindspore.ops.ctc_loss does."""

    def resolve(self, target: str) -> Any:
        return lambda x: (x * 2, np.zeros(3))


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


def test_a_reproducer_of_a_tuple_result_indexes_the_call():
    from harness.report import scripts as repro

    class _Snippets(_NumpyAdapter):
        def snippet_tensor(self, var: str, dtype: str) -> str:
            return var

    call = {"args": [{"name": "x", "array": repro.encode(np.array([1.0]))}], "params": {}, "output": 0}
    expr = repro._call_lines(repro._Script("s"), _Snippets(), {"target": "m.f", "kind": "function"}, call)
    assert expr == "m.f(x)[0]"


def _run_dies_body(tmp_path, expr: str) -> subprocess.CompletedProcess[str]:
    import sys

    from harness.report import scripts as repro

    script = tmp_path / "r.py"
    script.write_text("\n".join(["import os", "import sys", *repro._dies_body(expr)]) + "\n")
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)


def test_a_crash_reproducer_runs_the_call_in_a_child_and_says_it_died(tmp_path):
    died = _run_dies_body(tmp_path, "os.kill(os.getpid(), 9)")
    assert died.returncode == 1 and "killed the process (signal 9)" in died.stdout
    fine = _run_dies_body(tmp_path, "None")
    assert fine.returncode == 0 and "the call returned" in fine.stdout
