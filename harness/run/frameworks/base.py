"""What every adapter does the same way: resolving targets, calling them, introspection."""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.run import wire

_PLAIN = (type(None), bool, int, float, str)


class Adapter:
    name = ""
    package = ""
    call_method = "forward"  # the method a class binding's instances run on call
    #: message fragments of this framework's allocation failures (under the worker's memory limit)
    memory_messages: tuple[str, ...] = ("out of memory", "bad_alloc", "cannot allocate memory")

    synchronized = True
    """Whether `setup` makes the framework report each error on the call that caused it (a framework whose operators
    run asynchronously by default: see the registry's `asynchronous`); the stale-error check's worker sets False."""

    def setup(self) -> None:
        """Import the framework and put it in a deterministic CPU mode."""

    def settle(self) -> None:
        """Wait for any work still running (raising what it raised); a no-op where calls are synchronous."""

    def version(self) -> str:
        return str(importlib.import_module(self.package).__version__)

    def numpy_version(self) -> str:
        return np.__version__

    # conversions -------------------------------------------------------------------------
    def to_tensor(self, a: np.ndarray, dtype: str) -> Any:
        raise NotImplementedError

    def to_numpy(self, value: Any) -> tuple[np.ndarray, str]:
        """The value as numpy (bfloat16 widened to float32) and the framework's dtype name."""
        raise NotImplementedError

    def is_tensor(self, value: Any) -> bool:
        raise NotImplementedError

    # calls -------------------------------------------------------------------------------
    def resolve(self, target: str) -> Any:
        """The target's object, looked up once per worker process (every call of a binding names it)."""
        resolved: dict[str, Any] = self.__dict__.setdefault("_resolved", {})
        if target not in resolved:
            module, _, attr = target.rpartition(".")
            resolved[target] = getattr(importlib.import_module(module), attr)
        return resolved[target]

    def convert(self, v: Any) -> Any:
        if wire.is_array(v):
            return self.to_tensor(wire.decode_array(v), v["dtype"])
        return wire.decode_value(v)

    def _prepare(self, request: dict[str, Any]) -> tuple[Any, list[Any], dict[str, Any]]:
        fn = self.resolve(request["target"])
        args = [self.convert(a) for a in request.get("args", [])]
        kwargs = {k: self.convert(v) for k, v in request.get("kwargs", {}).items()}
        if request["kind"] == "class":
            init = {k: self.convert(v) for k, v in request.get("init", {}).items()}
            fn = fn(*[self.convert(a) for a in request.get("init_args", [])], **init)
        return fn, args, kwargs

    @staticmethod
    def _pick(out: Any, request: dict[str, Any]) -> Any:
        if request.get("output") is not None and isinstance(out, (tuple, list)):
            out = out[request["output"]]  # the documented position of the result in a returned tuple
        return out

    def _encode(self, out: Any) -> tuple[dict[str, Any], str]:
        if not self.is_tensor(out):
            raise TypeError(f"returned {type(out).__name__}, not a tensor")
        value, dtype = self.to_numpy(out)  # forces any asynchronous work to finish here
        return wire.encode_array(value, "bfloat16" if dtype == "bfloat16" else None), dtype

    def call(self, request: dict[str, Any]) -> tuple[dict[str, Any], str]:
        fn, args, kwargs = self._prepare(request)
        return self._encode(self._pick(fn(*args, **kwargs), request))

    def launch(self, request: dict[str, Any]) -> Any:
        """The call, its result not read (nothing waits for it): what a program that does not print its loss does."""
        fn, args, kwargs = self._prepare(request)
        return fn(*args, **kwargs)

    def grad(self, request: dict[str, Any]) -> dict[str, Any]:
        """The call's output and d sum(output) / d args[i] for i in request['wrt'] (None: no gradient)."""
        fn, args, kwargs = self._prepare(request)
        wrt = list(request["wrt"])

        def scalar_of(*xs: Any) -> tuple[Any, Any]:
            full = list(args)
            for i, x in zip(wrt, xs):
                full[i] = x
            out = self._pick(fn(*full, **kwargs), request)
            if not self.is_tensor(out):
                raise TypeError(f"returned {type(out).__name__}, not a tensor")
            return self.total(out), out

        out, grads = self.differentiate(scalar_of, [args[i] for i in wrt])
        value, dtype = self._encode(out)
        encoded: list[dict[str, Any] | None] = []
        for g in grads:
            if g is None:
                encoded.append(None)
            else:
                a, gdtype = self.to_numpy(g)
                encoded.append(wire.encode_array(a, "bfloat16" if gdtype == "bfloat16" else None) | {"framework_dtype": gdtype})
        return {"value": value, "dtype": dtype, "grads": encoded}

    def total(self, out: Any) -> Any:
        """The scalar that is differentiated: the sum of the output (a no-op for a reduced loss)."""
        return out.sum()

    def differentiate(self, scalar_of: Any, xs: list[Any]) -> tuple[Any, list[Any]]:
        """(output, gradients of scalar_of(*xs)[0] with respect to each x) in the framework's autodiff."""
        raise NotImplementedError(f"{self.name} adapter has no gradient support")

    def retires(self, request: dict[str, Any]) -> bool:
        """Whether the worker must serve no call after this one: a call known to corrupt its process's heap
        (it may still answer), after which any later call may hang or crash and be blamed for it."""
        return False

    def out_of_memory(self, exc: BaseException, message: str) -> bool:
        """The call failed for lack of memory (a `memory` verdict), not by the API's own rules."""
        lowered = message.lower()
        return isinstance(exc, MemoryError) or any(m in lowered for m in self.memory_messages)

    # reproducers: how a standalone script spells a call (strings only; no framework import) ----
    def snippet_setup(self) -> list[str]:
        """Lines after `import numpy as np` that import the framework and set it up as `setup()` does."""
        return [f"import {self.package}"]

    def snippet_tensor(self, var: str, dtype: str) -> str:
        """An expression making a tensor of logical `dtype` from numpy array `var` (bfloat16 arrives as float32)."""
        raise NotImplementedError

    def snippet_result(self, var: str) -> list[str]:
        """Lines setting `actual` (numpy, bfloat16 widened) and `actual_dtype` (as `to_numpy` names it) from `var`."""
        raise NotImplementedError

    def snippet_call(self, target: str, kind: str, args: list[str], params: dict[str, str],
                     init_args: Sequence[str] = ()) -> str:
        """The call expression; class bindings are constructed with `init_args` and `params` and called with `args`."""
        given = ", ".join(f"{k}={v}" for k, v in params.items())
        if kind == "class":
            return f"{target}({', '.join([*init_args, given] if given else init_args)})({', '.join(args)})"
        return f"{target}({', '.join(args + ([given] if given else []))})"

    def signature(self, target: str, kind: str) -> dict[str, Any]:
        obj = self.resolve(target)
        params = _params(obj.__init__ if kind == "class" else obj)
        call = _params(getattr(obj, self.call_method)) if kind == "class" else None
        return {"params": params, "call": call}


def _params(fn: Any) -> list[list[Any]]:
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        has = p.default is not p.empty
        default = p.default if has and isinstance(p.default, _PLAIN) else (repr(p.default) if has else None)
        out.append([p.name, default, has])
    return out
