"""Formulas and conditions: spec text parsed with `ast`, checked against a whitelist, interpreted.

A formula is never compiled or passed to `eval`: this module walks the checked tree itself, so a
spec can reach nothing but the names in `vocabulary` and the spec's own inputs and parameters.
"""
from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from . import vocabulary

MAX_SOURCE = 5_000
MAX_DEPTH = 40
MAX_POWER = 16
MAX_STRING = 200

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_ALLOWED = (
    ast.Module, ast.Expression, ast.Assign, ast.Name, ast.Load, ast.Store, ast.Constant, ast.BinOp,
    ast.UnaryOp, ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.IfExp, ast.Call, ast.keyword,
    ast.Tuple, ast.List, ast.Subscript, ast.Slice, *_BINOPS, *_UNARY, *_COMPARE,
)


TRACE = "__trace__"  # scope key of a branch tracer; formulas cannot name it (dunder names are refused)


class FormulaError(ValueError):
    """A formula or condition breaks a rule; `line` is relative to the formula's first line."""

    def __init__(self, message: str, line: int = 1, fix: str = "") -> None:
        super().__init__(message)
        self.message, self.line, self.fix = message, line, fix


@dataclass(frozen=True)
class Formula:
    """A checked program: assignments ending in `result` (formula) or one expression (condition)."""

    source: str
    tree: ast.AST = field(compare=False, repr=False)
    is_condition: bool = False

    def evaluate(self, env: dict[str, Any], ctx: vocabulary.Context | None = None, *,
                 vocab: dict[str, Any] | None = None, trace: Any = None) -> Any:
        """`vocab` replaces the vocabulary (e.g. forward-mode rules); `trace` records the branches taken."""
        ctx = ctx or vocabulary.Context()
        scope = {**vocabulary.CONSTANTS, **(vocab if vocab is not None else vocabulary.make_vocabulary(ctx))}
        scope.update(env)
        if trace is not None:
            scope[TRACE] = trace
        with np.errstate(all="ignore"):
            if self.is_condition:
                return _eval(self.tree.body, scope)  # type: ignore[attr-defined]
            for stmt in self.tree.body:  # type: ignore[attr-defined]
                scope[stmt.targets[0].id] = _eval(stmt.value, scope)
        return scope["result"]


def parse(source: str, variables: Iterable[str], *, condition: bool = False) -> Formula:
    """Check `source` and return it ready to evaluate; raise FormulaError naming line and fix."""
    if len(source) > MAX_SOURCE:
        raise FormulaError(f"is {len(source)} characters long; the limit is {MAX_SOURCE}",
                           fix="split the computation or add a vocabulary helper")
    try:
        tree = ast.parse(source.strip() if condition else source, mode="eval" if condition else "exec")
    except SyntaxError as exc:
        raise FormulaError(f"is not valid expression syntax: {exc.msg}", exc.lineno or 1,
                           "write Python expression syntax") from None
    known = set(variables) | vocabulary.NAMES
    _check(tree, depth=0)
    if condition:
        _check_names(tree.body, known)  # type: ignore[attr-defined]
        return Formula(source, tree, True)
    assigned: set[str] = set()
    for stmt in tree.body:  # type: ignore[attr-defined]
        if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            raise FormulaError("may only hold assignments of the form `name = expression`", stmt.lineno,
                               "write one `name = expression` per line")
        _check_names(stmt.value, known | assigned)
        name = stmt.targets[0].id
        if name in vocabulary.NAMES:
            raise FormulaError(f"assigns to {name!r}, a vocabulary name", stmt.lineno, "choose another name")
        assigned.add(name)
    if "result" not in assigned:
        raise FormulaError("never assigns `result`", 1, "end the formula with `result = ...`")
    return Formula(source, tree, False)


def _check(node: ast.AST, depth: int) -> None:
    line = getattr(node, "lineno", 1)
    if depth > MAX_DEPTH:
        raise FormulaError(f"nests deeper than {MAX_DEPTH} levels", line, "use intermediate assignments")
    if not isinstance(node, _ALLOWED):
        what = type(node).__name__
        fix = {"Attribute": "call a vocabulary function instead of using `.`",
               "Lambda": "formulas cannot define functions", "Import": "formulas cannot import"}.get(
            what, "use assignments, arithmetic, comparisons, `x if c else y` and vocabulary calls")
        raise FormulaError(f"uses {what}, which formulas do not allow", line, fix)
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            raise FormulaError(f"uses constant {node.value!r} of a kind formulas do not allow", line)
        if isinstance(node.value, str) and len(node.value) > MAX_STRING:
            raise FormulaError(f"has a string longer than {MAX_STRING} characters", line)
    if isinstance(node, ast.Call) and not isinstance(node.func, ast.Name):
        _check(node.func, depth + 1)  # an attribute or lambda in call position says so itself
        raise FormulaError("calls something that is not a vocabulary name", line,
                           "call vocabulary functions by name, e.g. `abs(x)`")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exp = node.right
        value = exp.value if isinstance(exp, ast.Constant) else None
        if isinstance(exp, ast.UnaryOp) and isinstance(exp.operand, ast.Constant):
            value = exp.operand.value
        if not isinstance(value, (int, float)) or isinstance(value, bool) or abs(value) > MAX_POWER:
            raise FormulaError(f"raises to a power that is not a number constant of at most {MAX_POWER}",
                               line, "use a literal exponent such as `d ** 2`")
    for child in ast.iter_child_nodes(node):
        _check(child, depth + 1)


def _check_names(node: ast.AST, known: set[str]) -> None:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            if sub.id.startswith("__"):
                raise FormulaError(f"uses the dunder name {sub.id!r}", sub.lineno, "dunder names are never allowed")
            if sub.id not in known:
                raise FormulaError(
                    f"uses {sub.id!r}, which is neither an input, a parameter, an earlier assignment "
                    "nor in the vocabulary", sub.lineno,
                    f"use one of the spec's names or a vocabulary function ({', '.join(sorted(vocabulary.NAMES))})")
        if isinstance(sub, ast.keyword) and sub.arg is None:
            raise FormulaError("uses `**` keyword unpacking", sub.value.lineno, "pass keywords by name")


_SEQUENCES = (str, tuple, list)


def _check_sequence_op(node: ast.BinOp, left: Any, right: Any) -> None:
    """Sequences may only be concatenated (shape arithmetic), and only to a bounded length."""
    ok = isinstance(node.op, ast.Add) and type(left) is type(right) and len(left) + len(right) <= MAX_STRING
    if not ok:
        raise vocabulary.FormulaRuntimeError(
            f"line {node.lineno}: {type(node.op).__name__} on {type(left).__name__} and {type(right).__name__} "
            "is not allowed (only bounded concatenation of sequences)")


def _eval(node: ast.AST, scope: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return scope[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, scope), _eval(node.right, scope)
        if isinstance(left, _SEQUENCES) or isinstance(right, _SEQUENCES):
            _check_sequence_op(node, left, right)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, scope))
    if isinstance(node, ast.BoolOp):
        is_and = isinstance(node.op, ast.And)
        value: Any = is_and
        for sub in node.values:
            value = _eval(sub, scope)
            if bool(value) != is_and:
                return value
        return value
    if isinstance(node, ast.Compare):
        left = _eval(node.left, scope)
        if len(node.ops) == 1:
            right = _eval(node.comparators[0], scope)
            out = _COMPARE[type(node.ops[0])](left, right)
            if TRACE in scope:
                scope[TRACE].compare(node, left, right, out)
            return out
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, scope)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        test = _eval(node.test, scope)
        if TRACE in scope:
            scope[TRACE].condition(node.test, test)
        return _eval(node.body if test else node.orelse, scope)
    if isinstance(node, ast.Call):
        args = [_eval(a, scope) for a in node.args]
        kwargs = {k.arg: _eval(k.value, scope) for k in node.keywords}
        if TRACE in scope and node.func.id == "where" and args:  # type: ignore[attr-defined]
            scope[TRACE].condition(node.args[0], args[0])
        return scope[node.func.id](*args, **kwargs)  # type: ignore[attr-defined]
    if isinstance(node, ast.Tuple):
        return tuple(_eval(e, scope) for e in node.elts)
    if isinstance(node, ast.List):
        return [_eval(e, scope) for e in node.elts]
    if isinstance(node, ast.Subscript):
        return _eval(node.value, scope)[_eval(node.slice, scope)]
    if isinstance(node, ast.Slice):
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if p is None else _eval(p, scope) for p in parts))
    raise FormulaError(f"cannot evaluate {type(node).__name__}")  # unreachable after _check
