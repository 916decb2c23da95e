"""PaddlePaddle: dynamic-graph mode on CPU; `.numpy()` synchronizes."""
from __future__ import annotations

from typing import Any

import numpy as np

from harness.run.frameworks.base import Adapter as Base


class Adapter(Base):
    name = package = "paddle"
    call_method = "forward"

    def setup(self) -> None:
        import paddle

        self.paddle = paddle
        paddle.set_device("cpu")
        paddle.disable_static()

    def to_tensor(self, a: np.ndarray, dtype: str) -> Any:
        t = self.paddle.to_tensor(np.array(a, order="C", copy=True))
        return t.astype("bfloat16") if dtype == "bfloat16" else t

    def is_tensor(self, value: Any) -> bool:
        return isinstance(value, self.paddle.Tensor)

    def to_numpy(self, value: Any) -> tuple[np.ndarray, str]:
        dtype = str(value.dtype).removeprefix("paddle.")
        if dtype == "bfloat16":
            value = value.astype("float32")
        return np.array(value.numpy()), dtype

    def differentiate(self, scalar_of: Any, xs: list[Any]) -> tuple[Any, list[Any]]:
        for x in xs:
            x.stop_gradient = False
        total, out = scalar_of(*xs)
        if total.stop_gradient:
            return out, [None] * len(xs)
        return out, list(self.paddle.grad([total], xs, allow_unused=True))

    def snippet_setup(self) -> list[str]:
        return ["import paddle", "", 'paddle.set_device("cpu")', "paddle.disable_static()"]

    def snippet_tensor(self, var: str, dtype: str) -> str:
        return f'paddle.to_tensor({var}).astype("bfloat16")' if dtype == "bfloat16" else f"paddle.to_tensor({var})"

    def snippet_result(self, var: str) -> list[str]:
        return [f'actual_dtype = str({var}.dtype).removeprefix("paddle.")',
                f'actual = ({var}.astype("float32") if actual_dtype == "bfloat16" else {var}).numpy()']
