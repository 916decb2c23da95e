"""Branch coverage of a spec: what the generated cases actually reached, so a gap is visible.

Three kinds of branches, all derived from the spec (no per-API code):
- conditions of the common formula: every comparison (true / false, and `equal` for <, <=, >, >=:
  the threshold itself), every `x if c else y` and `where(c, ...)` condition (true / false); a
  side counts as reached when at least one element of one case took it;
- the domain: each value of an enum or bool parameter, absent / present for optional tensors,
  each variant;
- raise rules (common and every binding's): reached when some case satisfies the condition.
Conditions are recorded by a tracer the formula interpreter calls (`formula.TRACE`), on the
float64 evaluation of valid cases only.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from typing import Any

import numpy as np

from harness.cases import pairwise
from harness.cases.case import Case, holds
from harness.judge.verdicts import matching_rules
from harness.spec import dtypes
from harness.spec.model import ArraySpec, Param, Spec

_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def _sides(value: Any) -> set[str]:
    try:
        arr = np.asarray(value)
        if arr.dtype == object:
            return {"true" if bool(value) else "false"}
        if arr.size == 0:
            return set()
        b = arr.astype(bool)
        return ({"true"} if b.any() else set()) | ({"false"} if not b.all() else set())
    except Exception:
        return set()


def _numeric(x: Any) -> bool:
    try:
        arr = np.asarray(x)
    except Exception:
        return False
    return arr.dtype.kind in "iuf" or arr.dtype.name == "bfloat16"


class Trace:
    """Sides reached, per condition node, over every evaluation it is passed to."""

    def __init__(self) -> None:
        self.reached: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._case: dict[tuple[int, int], set[str]] = defaultdict(set)

    def compare(self, node: ast.Compare, left: Any, right: Any, out: Any) -> None:
        sides = _sides(out)
        if isinstance(node.ops[0], _ORDERING) and _numeric(left) and _numeric(right):
            with np.errstate(all="ignore"):
                try:
                    if np.any(np.asarray(left) == np.asarray(right)):
                        sides.add("equal")
                except Exception:
                    pass
        self._case[_key(node)] |= sides

    def condition(self, node: ast.AST, value: Any) -> None:
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1):  # a single comparison records itself
            self._case[_key(node)] |= _sides(value)

    def end_case(self) -> None:
        """Count each side once per case."""
        for key, sides in self._case.items():
            for side in sides:
                self.reached[key][side] += 1
        self._case.clear()


def _key(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def conditions(tree: ast.AST, source: str) -> list[tuple[tuple[int, int], str, list[str]]]:
    """Every condition of a formula: (key, its text, the sides it has)."""
    found: dict[tuple[int, int], tuple[str, list[str]]] = {}
    for node in ast.walk(tree):
        cond: ast.AST | None = None
        if isinstance(node, ast.Compare):
            cond = node
        elif isinstance(node, ast.IfExp):
            cond = node.test
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "where" and node.args:
            cond = node.args[0]
        if cond is None or _key(cond) in found:
            continue
        ordering = isinstance(cond, ast.Compare) and isinstance(cond.ops[0], _ORDERING) and len(cond.ops) == 1
        text = ast.get_source_segment(source, cond) or ast.unparse(cond)
        found[_key(cond)] = (text, ["true", "false", "equal"] if ordering else ["true", "false"])
    return [(k, t, s) for k, (t, s) in sorted(found.items())]


def _domain(spec: Spec, valid: list[Case]) -> list[dict[str, Any]]:
    out = []
    for name, p in spec.model.params.items():
        if isinstance(p, Param) and (p.enum is not None or p.type == "bool"):
            values = [repr(v) for v in (p.enum if p.enum is not None else [False, True])]
            got: defaultdict[str, int] = defaultdict(int)
            for c in valid:
                got[repr(c.params.get(name))] += 1
            out.append(_entry(f"{name} =", values, got))
        elif isinstance(p, ArraySpec) and p.optional:
            got = defaultdict(int)
            for c in valid:
                got["absent" if c.arrays.get(name) is None else "present"] += 1
            out.append(_entry(name, ["absent", "present"], got))
    if spec.model.variants:
        got = defaultdict(int)
        for c in valid:
            got[str(c.variant)] += 1
        out.append(_entry("variant", sorted(spec.model.variants), got))
    return out


def _entry(what: str, sides: list[str], got: dict[str, int]) -> dict[str, Any]:
    reached = {s: int(got.get(s, 0)) for s in sides}
    return {"what": what, "reached": reached, "untested": [s for s, n in reached.items() if not n]}


def _raises(spec: Spec, cases: list[Case]) -> list[dict[str, Any]]:
    rules = [("common", r, c) for r, c in spec.raises]
    done = set()
    for b in spec.bindings:
        own = len(b.model.raises)  # a binding's rules come first, then its framework's
        for i, (r, c) in enumerate(b.raises):
            owner = b.target if i < own else b.framework
            if (owner, i) not in done:
                done.add((owner, i))
                rules.append((owner, r, c))
    return [{"owner": owner, "when": r.when, "error": r.error, "cases": sum(1 for case in cases if holds(cond, case))}
            for owner, r, cond in rules]


def of(spec: Spec, cases: list[Case], gradients: dict[str, Any] | None = None,
       pairs: set[pairwise.Pair] | None = None) -> dict[str, Any]:
    """The coverage of `spec` by `cases` (valid ones for formula and domain, all for raise rules), and of the
    demanded `pairs` of categorical features (cases/pairwise.py) by the valid ones."""
    valid = [c for c in cases if c.origin == "generated" and not matching_rules(spec.raises, c)]
    trace = Trace()
    evaluated = 0
    for case in valid:
        env = dtypes.widened(case.env())
        try:
            spec.formula.evaluate(env, trace=trace)
            evaluated += 1
        except Exception:
            pass
        trace.end_case()
    branches = []
    for key, text, sides in conditions(spec.formula.tree, spec.formula.source):
        reached = {s: int(trace.reached.get(key, {}).get(s, 0)) for s in sides}
        branches.append({"line": key[0], "condition": text, "reached": reached,
                         "untested": [s for s, n in reached.items() if not n]})
    domain = _domain(spec, valid)
    raises = _raises(spec, cases)
    sides = [n for b in branches + domain for n in b["reached"].values()] + [r["cases"] for r in raises]
    out: dict[str, Any] = {"cases": len(cases), "valid": len(valid), "evaluated": evaluated, "branches": branches,
                           "domain": domain, "raises": raises, "reached": sum(1 for n in sides if n), "total": len(sides)}
    if gradients is not None:
        out["gradients"] = gradients
    if pairs is not None:
        out["pairs"] = pairwise.reached(spec, valid, pairs)
    return out


def untested(cov: dict[str, Any]) -> list[str]:
    """Short labels of every branch side no case reached."""
    out = [f"{b['condition']}: {s}" for b in cov["branches"] for s in b["untested"]]
    out += [f"{d['what']} {s}" for d in cov["domain"] for s in d["untested"]]
    out += [f"raises {r['error']} when {r['when']} ({r['owner']})" for r in cov["raises"] if not r["cases"]]
    out += [f"pair {p}" for p in (cov.get("pairs") or {}).get("missed", [])]
    return out
