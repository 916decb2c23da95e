"""Other forms of a binding's call, as a user porting code writes them, for the checks that compare each with the
keyword call the spec makes (checks/naive_port.py, checks/positional.py):
- a naive port: the framework-only arguments the spec passes (`extra:`, e.g. paddle's axis and soft_label) that
  the first framework's call does not write left out, so their documented defaults apply;
- a positional call: the arguments in the documented positional order of the same kind of binding in the spec's
  first framework (the one code is ported from), each value where that order puts it;
- an option: a framework-only parameter at another documented value (`options:`, e.g. paddle's is_huber=False).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.cases.case import Case
from harness.run import wire
from harness.spec.model import BindingView, parse_signature, positional_params

Request = dict[str, Any] | None
Build = Callable[[BindingView, Case, int], Request]
"""Makes a binding's request for a case (None: the binding cannot express it)."""
Keyword = Callable[..., Request]
"""The spec's own request builder (run/pipeline.build_request), which these forms rewrite."""


def naive_request(keyword: Keyword) -> Build:
    """Requests without the framework-only arguments the spec passes."""
    return lambda binding, case, rid: keyword(binding, case, rid, extras=False)


def option_request(keyword: Keyword, param: str, value: Any) -> Build:
    """Requests that also pass the framework-only parameter `param` at `value`."""

    def build(binding: BindingView, case: Case, rid: int) -> Request:
        request = keyword(binding, case, rid)
        if request is not None:
            key = "init" if binding.kind == "class" else "kwargs"
            request[key] = {**request.get(key, {}), param: wire.encode_scalar(value)}
        return request

    return build


def dropped(binding: BindingView, case: Case) -> dict[str, tuple[Any, Any]]:
    """The framework-only arguments the spec passes for `case` that a port from the first framework's call does not
    write (that call has no argument of the name), with another value than their documented default:
    name -> (passed, default). Empty: the naive port makes the same call."""
    source = origin(binding)
    if source is None or source.framework == binding.framework:
        return {}
    defaults = {name: default for name, default, has in parse_signature(binding.model.signature) if has}
    out = {}
    for name, expr in binding.extra.items():
        if name in source.extra:
            continue
        try:
            passed = expr.evaluate(case.env())
        except Exception:
            continue
        if name not in defaults or passed != defaults[name] or type(passed) is not type(defaults[name]):
            out[name] = (passed, defaults.get(name, "required"))
    return out


@dataclass(frozen=True)
class Slot:
    """One positional parameter of a documented signature."""

    common: str | None  # its name in the spec (None: the framework's own parameter)
    own: str  # its name in the framework
    default: Any
    has_default: bool


def common_name(binding: BindingView, own: str) -> str | None:
    """The spec's name of the binding's parameter `own` (None: the framework's own parameter)."""
    renamed = next((common for common, name in binding.names.items() if name == own), None)
    if renamed is not None:
        return renamed
    known = own in binding.spec.model.inputs or own in binding.spec.model.params
    return own if known and binding.name_of(own) == own else None


def slots(binding: BindingView) -> list[Slot]:
    """The positional parameters of the binding's documented signature (a class: its constructor's)."""
    return [Slot(common_name(binding, name), name, default, has)
            for name, default, has in positional_params(binding.model.signature)]


def origin(binding: BindingView) -> BindingView | None:
    """The binding code is ported from: the first binding of the same kind in the spec's first framework."""
    first = next(iter(binding.spec.model.frameworks))
    return next((b for b in binding.spec.bindings if b.framework == first and b.kind == binding.kind), None)


def used(binding: BindingView, source: BindingView, case: Case) -> list[Slot]:
    """The positions a user of `source` writes for `case`: through the last whose value is not its default (the
    inputs of a function always), stopping before `source`'s own parameters (size_average, reduce): a user who would
    have to write one to reach the next switches to keywords there."""
    out = slots(source)
    own = next((k for k, slot in enumerate(out) if slot.common is None), len(out))
    last = -1
    for k, slot in enumerate(out[:own]):
        if not slot.has_default or not _is_default(_value(source, slot, case), slot.default):
            last = k
    return out[:last + 1]


def mismatch(binding: BindingView, source: BindingView, case: Case) -> str:
    """The first written position that means another parameter in `binding` than in `source` ("" when none)."""
    mine = slots(binding)
    for k, slot in enumerate(used(binding, source, case)):
        here = mine[k] if k < len(mine) else None
        if here is not None and (here.common, here.common or here.own) == (slot.common, slot.common or slot.own):
            continue
        return (f"position {k + 1}: {slot.common or slot.own} in {source.target}, "
                f"{here.own if here is not None else 'no parameter'} here")
    return ""


def positional_request(source: BindingView, keyword: Keyword) -> Build:
    """Requests that pass `source`'s written positions positionally: a function's arguments, a class's constructor
    arguments (its inputs go positionally anyway). The spec's other arguments stay keywords, in this binding's names,
    (which may collide with a written position: that is what the port does)."""

    def build(binding: BindingView, case: Case, rid: int) -> Request:
        request = keyword(binding, case, rid)
        if request is None:
            return None
        written = used(binding, source, case)
        if any(slot.common is not None and binding.name_of(slot.common) is None for slot in written):
            return None  # a position the binding has no parameter for: a port drops it, and the spec's call does too
        values = [_encoded(source, slot, case) for slot in written]
        covered_common = {slot.common for slot in written if slot.common is not None}
        key = "init" if binding.kind == "class" else "kwargs"
        # the rest stay keywords as the user wrote them, even where a position already took that name here (Python
        # then says "multiple values for argument": what the port does)
        request[key] = {own: value for own, value in request.get(key, {}).items()
                        if (common_name(binding, own) or own) not in covered_common}
        if binding.kind == "class":
            request["init_args"] = values
        else:
            request["args"] = values
        return request

    return build


def _value(source: BindingView, slot: Slot, case: Case) -> Any:
    """What a user of `source` writes at this position for `case` (its default where the case leaves it out)."""
    if slot.common is None or slot.common in case.omit:
        return slot.default
    if slot.common in case.arrays:
        return case.arrays[slot.common]
    return case.params.get(slot.common, slot.default)


def _is_default(value: Any, default: Any) -> bool:
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return False  # an array is never a written default
    return type(value) is type(default) and bool(value == default)


def _encoded(source: BindingView, slot: Slot, case: Case) -> Any:
    value = _value(source, slot, case)
    if slot.common is not None and slot.common in case.arrays:
        return None if value is None else wire.encode_array(value)
    return wire.encode_scalar(value)
