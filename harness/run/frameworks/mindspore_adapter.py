"""MindSpore: PyNative mode on CPU; `asnumpy()` waits for the kernel, so errors land on their case."""
from __future__ import annotations

from typing import Any

import numpy as np

from harness.run.frameworks.base import Adapter as Base


class Adapter(Base):
    name = package = "mindspore"
    call_method = "construct"
    memory_messages = Base.memory_messages + ("allocate memory failed",)

    def setup(self) -> None:
        import mindspore

        self.ms = mindspore
        mindspore.set_context(mode=mindspore.PYNATIVE_MODE)
        # PyNative launches kernels asynchronously: an error could surface on a later call and be
        # charged to the wrong case (seen with 2.10: a dtype error repeated on the next calls).
        runtime = getattr(mindspore, "runtime", None)
        if not self.synchronized:
            pass  # the stale-error check's worker: MindSpore's default, asynchronous launches
        elif runtime is not None and hasattr(runtime, "launch_blocking"):
            runtime.launch_blocking()
        else:
            mindspore.set_context(pynative_synchronize=True)
        if hasattr(mindspore, "set_device"):
            mindspore.set_device("CPU")
        else:
            mindspore.set_context(device_target="CPU")
        # one CPU kernel thread (the default is 25): as torch's set_num_threads(1), a result never depends on how
        # its work was split between threads, and a worker takes one core, not both, beside the others running
        op_tuning = getattr(getattr(getattr(mindspore, "device_context", None), "cpu", None), "op_tuning", None)
        if op_tuning is not None:
            op_tuning.threads_num(1)

    def settle(self) -> None:
        self.ms.runtime.synchronize()

    def to_tensor(self, a: np.ndarray, dtype: str) -> Any:
        t = self.ms.Tensor(np.array(a, order="C", copy=True))
        return t.astype(self.ms.bfloat16) if dtype == "bfloat16" else t

    def is_tensor(self, value: Any) -> bool:
        return isinstance(value, self.ms.Tensor)

    def to_numpy(self, value: Any) -> tuple[np.ndarray, str]:
        dtype = str(value.dtype).lower()
        if dtype == "bfloat16":
            value = value.astype(self.ms.float32)
        return np.array(value.asnumpy()), dtype

    def differentiate(self, scalar_of: Any, xs: list[Any]) -> tuple[Any, list[Any]]:
        # value_and_grad differentiates the first output; the loss itself rides along as aux
        fn = self.ms.value_and_grad(scalar_of, grad_position=tuple(range(len(xs))), has_aux=True)
        (_, out), grads = fn(*xs)
        grads = list(grads) if isinstance(grads, (tuple, list)) else [grads]
        return out[0] if isinstance(out, (tuple, list)) else out, grads

    def snippet_setup(self) -> list[str]:
        return ["import mindspore", "", "mindspore.set_context(mode=mindspore.PYNATIVE_MODE)",
                "mindspore.runtime.launch_blocking()  # errors surface on the call that caused them",
                'mindspore.set_device("CPU")', "try:",
                "    mindspore.device_context.cpu.op_tuning.threads_num(1)  # one kernel thread, as the harness runs it",
                "except RuntimeError:  # it can be set once per process: an earlier script here did",
                "    pass"]

    def snippet_tensor(self, var: str, dtype: str) -> str:
        return f"mindspore.Tensor({var}).astype(mindspore.bfloat16)" if dtype == "bfloat16" else f"mindspore.Tensor({var})"

    def snippet_result(self, var: str) -> list[str]:
        return [f"actual_dtype = str({var}.dtype).lower()",
                f'actual = ({var}.astype(mindspore.float32) if actual_dtype == "bfloat16" else {var}).asnumpy()']
