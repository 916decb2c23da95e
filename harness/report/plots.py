"""Plots where a curve says more than a table, driven by a spec's `plots:` section (no Python per API).

`y: value` sweeps an elementwise API over an array (e.g. the loss against input - target) and
draws every framework over the reference, a panel per parameter combination: a different formula
behind the same name shows at a glance. `y: error` calls the API once per x value (e.g. a
reduction of n elements) and draws each framework's relative error against the float64 reference.
The run measures (`measure`, framework calls through the workers); the report draws (`render`).
"""
from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from harness.cases.case import Case
from harness.cases.plots import cases, documented_dtypes, panels, xs
from harness.checks.precision_growth import relative_error
from harness.judge.reference import evaluate
from harness.run.frameworks import registry
from harness.spec import dtypes
from harness.spec.model import BindingView, Plot, Spec

COLORS = {f.name: f.color for f in registry.FRAMEWORKS}
DASHES = {f.name: f.dashes for f in registry.FRAMEWORKS}


def _num(v: float) -> float | None:
    return float(f"{v:.7g}") if math.isfinite(v) else None


def _series(a: Any) -> list[float | None]:
    return [_num(float(v)) for v in np.ravel(np.asarray(a, dtype=np.float64))]


def reference(spec: Spec, seed: int) -> list[dict[str, Any]]:
    """Per plot: its axes, and per panel the reference curve and each binding's own documented formula."""
    out = []
    for i, plot in enumerate(spec.model.plots):
        item: dict[str, Any] = {"title": plot.title, "y": plot.y, "x_name": plot.x.name, "x": [_num(v) for v in xs(plot)],
                                "dtype": plot.dtype, "panels": []}
        try:
            for params, row in zip(panels(plot), cases(spec, i, seed)):
                panel: dict[str, Any] = {"params": params}
                if plot.y == "value":
                    ref = evaluate(spec.formula, row[0])
                    panel["reference"] = _series(ref.value) if ref.value is not None else None
                    own = {}
                    for b in spec.bindings:
                        if b.formula is not None and b.framework not in own:
                            r = evaluate(b.formula, row[0])
                            own[b.framework] = _series(r.value) if r.value is not None else None
                    panel["own"] = own
                item["panels"].append(panel)
        except Exception as exc:  # a plot that cannot be drawn says why; the run goes on
            item["error"] = f"{type(exc).__name__}: {exc}"
        out.append(item)
    return out


def measure(spec: Spec, binding: BindingView, pool: Any, seed: int, lane: str = "") -> list[dict[str, Any]]:
    """Per plot and panel, this binding's curve (y: value) or relative errors (y: error), through its worker."""
    from harness.run.pipeline import build_request, outcome_of

    out = []
    for i, plot in enumerate(spec.model.plots):
        item: dict[str, Any] = {"panels": []}
        try:
            rows = [[documented_dtypes(binding, c) for c in row] for row in cases(spec, i, seed)]
            flat = [c for row in rows for c in row]
            requests = [build_request(binding, c, k) for k, c in enumerate(flat)]
            sent = [r for r in requests if r is not None]
            replies = iter(pool.get(binding.framework, lane).run(sent) if sent else [])
            outcomes = [outcome_of(next(replies)) if r is not None else None for r in requests]
            k = 0
            for row in rows:
                got = outcomes[k:k + len(row)]
                k += len(row)
                item["panels"].append(_panel(spec, plot, row, got))
        except Exception as exc:
            item["error"] = f"{type(exc).__name__}: {exc}"
        out.append(item)
    return out


def _panel(spec: Spec, plot: Plot, row: list[Case], outcomes: list[Any]) -> dict[str, Any]:
    if any(o is None for o in outcomes):
        return {"error": "this binding cannot express the plot's cases"}
    failed = [o for o in outcomes if not o.ok]
    if plot.y == "value":
        o = outcomes[0]
        if not o.ok:
            return {"error": _error(o)}
        return {"values": _series(o.value), "dtype": o.dtype}
    errors = [relative_error(case, o, spec.formula) for case, o in zip(row, outcomes)]
    return {"errors": [None if e is None else _num(e) for e in errors], "failed": _error(failed[0]) if failed else None}


def _error(o: Any) -> str:
    err = o.error or {}
    return (f"{err.get('type')}: {err.get('message', '')}" if err else str(o.crash))[:300]


# drawing (report side) ----------------------------------------------------------------------

def _short(target: str, framework: str) -> str:
    return target.removeprefix(framework + ".")


def _lines(panel_index: int, plot_index: int, targets: list[dict[str, Any]], key: str) -> list[tuple[str, str, list[Any]]]:
    """(framework, label, series) per distinct curve: bindings of one framework with equal curves share a line."""
    groups: dict[tuple[str, str], list[str]] = {}
    series: dict[tuple[str, str], list[Any]] = {}
    failures: list[tuple[str, str, list[Any]]] = []
    for t in targets:
        plots = t.get("plots") or []
        if plot_index >= len(plots) or plots[plot_index].get("error"):
            continue
        panels_ = plots[plot_index]["panels"]
        if panel_index >= len(panels_):
            continue
        p = panels_[panel_index]
        if p.get(key) is None:
            failures.append((t["framework"], f"{_short(t['target'], t['framework'])}: {p.get('error') or p.get('failed')}", []))
            continue
        k = (t["framework"], repr(p[key]))
        groups.setdefault(k, []).append(_short(t["target"], t["framework"]))
        series[k] = p[key]
    out = [(fw, f"{fw}: {', '.join(names)}", series[(fw, s)]) for (fw, s), names in groups.items()]
    return sorted(out, key=lambda x: (registry.rank(x[0]), x[1])) + failures


def render(api: dict[str, Any], targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One inline SVG per plot of an API: a panel per parameter combination."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [{"title": p["title"], "error": "matplotlib is not installed: no plots"} for p in api.get("plots", [])]
    out = []
    for i, plot in enumerate(api.get("plots", [])):
        if plot.get("error"):
            out.append({"title": plot["title"], "error": plot["error"]})
            continue
        n = len(plot["panels"])
        cols = min(n, 3)
        rows = math.ceil(n / cols)
        with plt.rc_context({"svg.fonttype": "none", "font.size": 8, "axes.titlesize": 9, "svg.hashsalt": "harness"}):
            fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.7 * rows + 0.5), squeeze=False)
            notes: list[str] = []
            for j, panel in enumerate(plot["panels"]):
                ax = axes[j // cols][j % cols]
                _draw(ax, plot, panel, _lines(j, i, targets, "values" if plot["y"] == "value" else "errors"), notes)
                ax.set_title(", ".join(f"{k}={v!r}" for k, v in panel["params"].items()) or plot["title"])
            for j in range(n, rows * cols):
                axes[j // cols][j % cols].axis("off")
            handles, labels = axes[0][0].get_legend_handles_labels()
            fig.tight_layout()
            fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0), ncol=2, frameon=False, fontsize=7.5)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
            plt.close(fig)
        svg = buf.getvalue()
        svg = svg[svg.index("<svg"):]
        out.append({"title": plot["title"], "svg": svg, "notes": sorted(set(notes))})
    return out


def _draw(ax: Any, plot: dict[str, Any], panel: dict[str, Any], lines: list[tuple[str, str, list[Any]]], notes: list[str]) -> None:
    x = np.asarray(plot["x"], dtype=np.float64)

    def arr(s: list[Any]) -> np.ndarray:
        return np.asarray([np.nan if v is None else v for v in s], dtype=np.float64)

    if plot["y"] == "value":
        if panel.get("reference") is not None:
            ax.plot(x, arr(panel["reference"]), color="#bbbbbb", lw=5, label="reference (spec formula)", zorder=1)
        for fw, own in sorted((panel.get("own") or {}).items()):
            if own is not None:
                ax.plot(x, arr(own), color=COLORS.get(fw, "#555"), lw=0.8, ls=":", label=f"{fw}'s documented formula", zorder=2)
        for fw, label, s in lines:
            if not s:
                notes.append(label)
                continue
            ax.plot(x, arr(s), color=COLORS.get(fw, "#555"), lw=1.4, dashes=DASHES.get(fw, (None, None)), label=label, zorder=3)
        ax.set_xlabel(plot["x_name"])
        ax.set_ylabel("output")
    else:
        floor = dtypes.eps(plot["dtype"]) / 16
        for fw, label, s in lines:
            if not s:
                notes.append(label)
                continue
            ax.plot(x, np.maximum(arr(s), floor), color=COLORS.get(fw, "#555"), lw=1.4, marker="o", ms=3,
                    dashes=DASHES.get(fw, (None, None)), label=label)
        ax.axhline(dtypes.eps(plot["dtype"]), color="#999", lw=0.8, ls="--", label=f"eps({plot['dtype']})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(plot["x_name"])
        ax.set_ylabel("relative error (exact: at the floor)")
    ax.grid(True, lw=0.3, alpha=0.6)
