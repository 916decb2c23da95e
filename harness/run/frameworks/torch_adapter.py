"""PyTorch: eager CPU tensors; nothing is asynchronous on CPU."""
from __future__ import annotations

from typing import Any

import numpy as np

from harness.run.frameworks.base import Adapter as Base


class Adapter(Base):
    name = package = "torch"
    call_method = "forward"
    memory_messages = Base.memory_messages + ("can't allocate memory",)

    def setup(self) -> None:
        import torch

        self.torch = torch
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True, warn_only=True)

    def to_tensor(self, a: np.ndarray, dtype: str) -> Any:
        t = self.torch.from_numpy(np.array(a, order="C", copy=True))
        return t.to(self.torch.bfloat16) if dtype == "bfloat16" else t

    def is_tensor(self, value: Any) -> bool:
        return isinstance(value, self.torch.Tensor)

    def to_numpy(self, value: Any) -> tuple[np.ndarray, str]:
        dtype = str(value.dtype).removeprefix("torch.")
        value = value.detach()
        if dtype == "bfloat16":
            value = value.float()
        return value.numpy().copy(), dtype

    def differentiate(self, scalar_of: Any, xs: list[Any]) -> tuple[Any, list[Any]]:
        xs = [x.detach().requires_grad_(True) for x in xs]
        total, out = scalar_of(*xs)
        grads = self.torch.autograd.grad(total, xs, allow_unused=True) if total.requires_grad else [None] * len(xs)
        return out, list(grads)

    def snippet_setup(self) -> list[str]:
        return ["import torch", "", "torch.set_num_threads(1)"]

    def snippet_tensor(self, var: str, dtype: str) -> str:
        return f"torch.from_numpy({var}).to(torch.bfloat16)" if dtype == "bfloat16" else f"torch.from_numpy({var})"

    def snippet_result(self, var: str) -> list[str]:
        return [f'actual_dtype = str({var}.dtype).removeprefix("torch.")',
                f"actual = {var}.detach().float().numpy() if actual_dtype == \"bfloat16\" else {var}.detach().numpy()"]
