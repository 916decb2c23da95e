"""The cases of a spec's `plots:` section (harness/report/plots.py draws them; the precision-growth check judges
the `y: error` ones): per panel (a parameter combination) one case sweeping x (y: value) or one per x value
(y: error), drawn from the plot's own seed so the same plot is the same cases."""
from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from harness.cases.case import Case
from harness.spec import dtypes
from harness.spec.model import ArraySpec, BindingView, Plot, Spec


def _helpers(seed: int, *key: int) -> dict[str, Any]:
    rng = np.random.default_rng([abs(int(seed)), *key])
    return {
        "linspace": lambda a, b, n: np.linspace(float(a), float(b), int(n)),
        "uniform": lambda shape, lo=-1.0, hi=1.0: rng.uniform(float(lo), float(hi), _shape(shape)),
        "randint": lambda shape, hi: rng.integers(0, int(hi), _shape(shape)),
    }


def _shape(shape: Any) -> tuple[int, ...]:
    dims = (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)
    if math.prod(dims) > 2_000_000:
        raise ValueError(f"plot input shape {dims} is too large (2e6 elements at most)")
    return dims


def panels(plot: Plot) -> list[dict[str, Any]]:
    """Parameter combinations: one panel each."""
    names = list(plot.params)
    return [dict(zip(names, combo)) for combo in itertools.product(*(plot.params[n] for n in names))] or [{}]


def xs(plot: Plot) -> list[float]:
    if plot.x.values is not None:
        return [float(v) for v in plot.x.values]
    return np.linspace(plot.x.start, plot.x.stop, plot.x.points).tolist()


def cases(spec: Spec, index: int, seed: int) -> list[list[Case]]:
    """The cases of one plot: per panel, one case (y: value) or one per x value (y: error)."""
    plot, exprs = spec.model.plots[index], spec.plot_inputs[index]
    defaults = {k: getattr(p, "default", None) for k, p in spec.model.params.items() if not isinstance(p, ArraySpec)}
    out = []
    for p, params in enumerate(panels(plot)):
        xvalues: list[Any] = [np.asarray(xs(plot))] if plot.y == "value" else xs(plot)
        row = []
        for j, x in enumerate(xvalues):
            env = {**defaults, **params, **_helpers(seed, index, p, j), plot.x.name: _cast(np.asarray(x), plot.dtype)
                   if plot.y == "value" else int(x), "variant": plot.variant}
            arrays: dict[str, np.ndarray | None] = {}
            for name in _array_names(spec, plot):
                if name in exprs:
                    arrays[name] = _cast(np.asarray(exprs[name].evaluate({**env, **arrays})), plot.dtype)
                else:
                    arrays[name] = None  # an optional tensor parameter the plot leaves out
            row.append(Case(spec.api, arrays, {**defaults, **params}, plot.variant, origin="plot"))
        out.append(row)
    return out


def _array_names(spec: Spec, plot: Plot) -> list[str]:
    names = list(spec.model.inputs)
    if plot.variant:
        names += [n for n in spec.model.variants[plot.variant].inputs if n not in names]
    return names + [k for k, v in spec.model.params.items() if isinstance(v, ArraySpec)]


def _cast(a: np.ndarray, dtype: str) -> np.ndarray:
    return dtypes.cast(a, dtype) if a.dtype.kind == "f" else a


def documented_dtypes(binding: BindingView, case: Case) -> Case:
    """The plot's arrays in a dtype of the same kind that the binding documents (e.g. int32 class indices)."""
    arrays = dict(case.arrays)
    for name, a in case.arrays.items():
        allowed = binding.dtypes.get(name)
        if a is None or not allowed or dtypes.name(a) in allowed:
            continue
        kind = "f" if dtypes.is_float(dtypes.name(a)) else a.dtype.kind
        same = [d for d in allowed if ("f" if dtypes.is_float(d) else np.dtype(d).kind) == kind]
        if same:
            arrays[name] = dtypes.cast(a, same[0]) if kind == "f" else a.astype(same[0])
    return case.with_(arrays=arrays)
