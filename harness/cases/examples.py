"""Checked-in cases: documentation examples with their printed outputs, and regression cases.

A file under `cases/` holds a list of cases for one api:

    api: smooth_l1_loss
    cases:
      - name: mindspore docs example
        source: https://...
        targets: [mindspore.nn.SmoothL1Loss]       # optional: default every binding
        params: {reduction: none}
        inputs:
          input: {dtype: float32, value: [1, 2, 3]}
        expected: [0, 0, 0.5]                      # optional: the documented output
        decimals: 4                                # the precision it was printed with
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from harness.cases.case import Case, param_in
from harness.cases.probes import feature_of
from harness.spec import dtypes
from harness.spec.model import Spec
from harness.spec.source import Located, SourceError, load


class _ArrayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dtype: str
    value: Any = None
    shape: list[int] | None = None


class _CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    source: str | None = None
    targets: list[str] | None = None
    variant: str | None = None
    params: dict[str, Any] = {}
    inputs: dict[str, _ArrayIn | None]
    expected: Any = None
    decimals: int | None = None
    kind: Literal["example", "regression"] = "example"
    origin: Literal["generated", "invalid"] = "generated"  # regression: how the replayed case was made
    note: str = ""  # regression: what an invalid case breaks
    probe: str = ""  # regression: the invalid case's probe (cases/probes.py)
    omit: list[str] = []  # regression: parameters left out of the call
    crashes: bool = False  # regression: the accepted finding is a crash (its rate is measured on every replay)
    unbatched: dict[str, int] = {}  # the spec's unbatched form: input -> the batch axis it lacks


class _FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api: str
    cases: list[_CaseIn]


_LOADED: dict[tuple[Path, int, int], Located] = {}


def _load(path: Path) -> Located:
    """A case file, parsed once per process while it is unchanged (every spec's run reads every file for its api)."""
    stat = path.stat()
    key = (path.resolve(), stat.st_mtime_ns, stat.st_size)
    if key not in _LOADED:
        _LOADED[key] = load(path)
    return _LOADED[key]


def load_examples(root: Path | None, spec: Spec) -> list[Case]:
    """The checked-in cases of one spec. A malformed file raises SourceError with its line."""
    if root is None or not Path(root).exists():
        return []
    out: list[Case] = []
    for path in sorted(Path(root).rglob("*.yaml")):
        located = _load(path)
        if not isinstance(located.data, dict) or located.data.get("api") != spec.api:
            continue
        try:
            model = _FileIn.model_validate(located.data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = tuple(err["loc"])
            raise SourceError(path, located.line(loc), f"{'.'.join(map(str, loc))}: {err['msg']}",
                              "see the format in harness/examples.py") from None
        for i, c in enumerate(model.cases):
            unknown = set(c.inputs) - set(spec.model.inputs) - set(spec.model.params)
            unknown |= set(c.params) - set(spec.model.params)
            if unknown:
                raise SourceError(path, located.line(("cases", i)), f"case {c.name!r} uses {sorted(unknown)}, not in spec {spec.api}",
                                  f"use the spec's names: {sorted(set(spec.model.inputs) | set(spec.model.params))}")
            arrays = {k: (None if a is None else _array(a)) for k, a in c.inputs.items()}
            params = {k: param_in(v) for k, v in c.params.items()}
            for name, p in spec.model.params.items():  # unspecified parameters take the common default
                if name not in params and name not in arrays:
                    if hasattr(p, "type"):
                        params[name] = p.default
                    else:
                        arrays[name] = None
            targets = tuple(c.targets) if c.targets else None
            if c.kind == "regression":
                out.append(Case(spec.api, arrays, params, c.variant, tuple(c.omit), c.origin, targets=targets,
                                note=c.note, regression=c.name, probe=c.probe or feature_of(spec, c.note), crashes=c.crashes,
                                unbatched=tuple(c.unbatched.items())))
            else:
                out.append(Case(spec.api, arrays, params, c.variant, origin=f"example:{c.name}", expected=c.expected,
                                decimals=c.decimals, targets=targets, note=c.source or str(path),
                                unbatched=tuple(c.unbatched.items())))
    return out


def _array(a: _ArrayIn) -> np.ndarray:
    values = np.asarray(a.value if a.value is not None else [], dtype=np.float64)  # 'nan', 'inf' strings too
    if a.shape is not None:
        values = values.reshape(a.shape)
    return dtypes.cast(values, a.dtype)
