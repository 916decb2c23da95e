"""PaddlePaddle: dynamic-graph mode on CPU; `.numpy()` synchronizes."""
from __future__ import annotations

import signal
from typing import Any

import numpy as np

from harness.run import wire
from harness.run.frameworks.base import Adapter as Base

NLL_IGNORE_INDEX = -100  # nll_loss's documented default


class Adapter(Base):
    name = package = "paddle"
    call_method = "forward"

    def setup(self) -> None:
        import paddle

        self.paddle = paddle
        paddle.set_device("cpu")
        paddle.disable_static()
        # paddle's fatal-signal handler prints a stack trace, which allocates: after a heap-corrupting call glibc
        # aborts, and the handler then deadlocks in malloc (a hang of the whole deadline where a death takes
        # milliseconds). The default action ends the process at once; the worker's log keeps glibc's message.
        for sig in (signal.SIGABRT, signal.SIGSEGV, signal.SIGFPE, signal.SIGBUS, signal.SIGILL):
            signal.signal(sig, signal.SIG_DFL)

    def to_tensor(self, a: np.ndarray, dtype: str) -> Any:
        t = self.paddle.to_tensor(np.array(a, order="C", copy=True))
        return t.astype("bfloat16") if dtype == "bfloat16" else t

    def retires(self, request: dict[str, Any]) -> bool:
        """nll_loss with a label equal to ignore_index (with a weight) and ctc_loss with an input length outside
        [0, T] write outside their buffers: glibc reports "corrupted size vs. prev_size" on a later call, or the
        process hangs in malloc. Such a call is the last its process serves."""
        if request.get("op") not in ("call", "grad"):
            return False
        target, args = str(request.get("target")), request.get("args") or []
        params = {**(request.get("init") or {}), **(request.get("kwargs") or {})}
        try:
            if target.endswith(("nll_loss", "NLLLoss")) and len(args) > 1 and wire.is_array(args[1]):
                return bool((wire.decode_array(args[1]) == params.get("ignore_index", NLL_IGNORE_INDEX)).any())
            if target.endswith(("ctc_loss", "CTCLoss")) and len(args) > 2 and wire.is_array(args[0]) and wire.is_array(args[2]):
                lengths = wire.decode_array(args[2])
                return bool(((lengths < 0) | (lengths > args[0]["shape"][0])).any()) if args[0]["shape"] else False
        except (TypeError, ValueError):
            return False
        return False

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
