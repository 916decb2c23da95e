"""Formulas and conditions: spec text parsed with `ast`, checked against a whitelist, interpreted.

A formula is never given to Python's `compile` or `eval`: this module turns the checked tree into
closures of its own (once per formula), so a spec can reach nothing but the names in `vocabulary`
and the spec's own inputs and parameters.
Vocabulary functions can only be called (never passed around), with `axis=`/`like=` keywords only.

Every evaluation is bounded: there are no loops, so it takes one step per tree node; each array it
makes is checked *before* it is made (broadcast shape at most `vocabulary.MAX_ELEMENTS`), all the
arrays of one evaluation together hold at most MAX_WORK elements (time and memory), and Python
integers stay under MAX_INT_BITS (a chain of `** 16` would otherwise grow without end).
"""
from __future__ import annotations

import ast
import functools
import math
import operator
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.spec import vocabulary

MAX_SOURCE = 5_000
MAX_DEPTH = 40
MAX_POWER = 16
MAX_STRING = 200
MAX_WORK = 64_000_000  # array elements one evaluation may produce in total (at most ~512 MB in float64)
MAX_INT_BITS = 4096
KEYWORDS = frozenset({"axis", "like"}) | vocabulary.KEYWORDS

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
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
    program: Any = field(default=None, compare=False, repr=False, init=False)

    def __post_init__(self) -> None:
        # the checked tree turned once into nested closures: walking the tree anew on every
        # evaluation cost more than the numpy work of a small case
        if self.is_condition:
            program = _compile(self.tree.body)  # type: ignore[attr-defined]
        else:
            steps = [(stmt.targets[0].id, _compile(stmt.value)) for stmt in self.tree.body]  # type: ignore[attr-defined]

            def program(scope: dict[str, Any], work: _Work) -> Any:
                for name, step in steps:
                    scope[name] = step(scope, work)
                return scope["result"]
        object.__setattr__(self, "program", program)

    def evaluate(self, env: dict[str, Any], ctx: vocabulary.Context | None = None, *,
                 vocab: dict[str, Any] | None = None, trace: Any = None) -> Any:
        """`vocab` replaces the vocabulary (e.g. forward-mode rules); `trace` records the branches taken."""
        scope = {**vocabulary.CONSTANTS, **vocab} if vocab is not None else vocabulary.scope(ctx)
        scope.update(env)
        if trace is not None:
            scope[TRACE] = trace
        work = _Work()
        with np.errstate(all="ignore"):
            return self.program(scope, work)


#: vocabulary functions that read an array's dtype, shape or rank, never its elements
METADATA = frozenset({"shape", "ndim", "size", "dtype", "is_float", "is_int", "len", "broadcastable", "instance_of"})


@functools.cache
def reads(formula: Formula) -> tuple[tuple[str, ...], frozenset[str]]:
    """The names `formula` reads (sorted; called names too, in case a value shadows one), and those it reads
    only through their metadata: as plain arguments of METADATA functions, or in `x is None` / `x is not None`.

    Why: a condition that reads arrays only so has one value for every case with the same dtypes, shapes
    and other values, so the judge can share it between such cases (see verdicts.shared).
    """
    meta: set[str] = set()
    value: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and all(
                isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops) and all(
                isinstance(c, ast.Constant) and c.value is None for c in node.comparators):
            meta.add(node.left.id)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            value.add(node.func.id)
            plain = node.func.id in METADATA and not node.keywords
            for arg in node.args:
                if plain and isinstance(arg, ast.Name):
                    meta.add(arg.id)
                else:
                    visit(arg)
            for keyword in node.keywords:
                visit(keyword.value)
            return
        if isinstance(node, ast.Name):
            value.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(formula.tree)
    return tuple(sorted(meta | value)), frozenset(meta - value)


def parse(source: str, variables: Iterable[str], *, condition: bool = False) -> Formula:
    """Check `source` and return it ready to evaluate; raise FormulaError naming line and fix."""
    if len(source) > MAX_SOURCE:
        raise FormulaError(f"is {len(source)} characters long; the limit is {MAX_SOURCE}",
                           fix="split the computation or add a vocabulary helper")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # e.g. "invalid decimal literal": the check says more
            tree = ast.parse(source.strip() if condition else source, mode="eval" if condition else "exec")
    except SyntaxError as exc:
        raise FormulaError(f"is not valid expression syntax: {exc.msg}", exc.lineno or 1,
                           "write Python expression syntax") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes; nesting beyond the parser's own limit
        raise FormulaError(f"cannot be parsed: {type(exc).__name__}", 1, "write plain, shallow expressions") from None
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
    if isinstance(node, ast.keyword) and node.arg is not None and node.arg not in KEYWORDS:
        raise FormulaError(f"passes keyword {node.arg!r}, which formulas do not allow", line,
                           f"use only the keywords {sorted(KEYWORDS)}")
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
    called = {id(sub.func) for sub in ast.walk(node) if isinstance(sub, ast.Call)}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in vocabulary.FUNCTIONS and id(sub) not in called:
            raise FormulaError(f"uses the function {sub.id!r} as a value", sub.lineno,
                               f"call it, e.g. `{sub.id}(x)`")
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


class _Work:
    """What one evaluation has produced so far, against MAX_WORK.

    Checked at every node, so the common cases (no array near the limits) take no shape work.
    """

    __slots__ = ("elements",)

    def __init__(self) -> None:
        self.elements = 0

    def before(self, node: ast.AST, *operands: Any) -> None:
        """Refuse an operation whose arrays would broadcast to more than MAX_ELEMENTS, before it runs."""
        bound = 1  # broadcasting never makes more elements than the product of the sizes
        for a in operands:
            if isinstance(a, _ARRAYS):
                bound *= a.size
        if bound <= vocabulary.MAX_ELEMENTS:
            return
        try:
            size = math.prod(np.broadcast_shapes(*(np.shape(a) for a in operands if isinstance(a, _ARRAYS))))
        except ValueError:
            return  # not an elementwise combination: the function checks its own output
        if size > vocabulary.MAX_ELEMENTS:
            raise vocabulary.FormulaRuntimeError(
                f"line {getattr(node, 'lineno', 1)}: an array of {size} elements is over the limit of {vocabulary.MAX_ELEMENTS}")

    def after(self, node: ast.AST, value: Any) -> Any:
        if type(value) is np.ndarray:
            self._add(node, value)
            return value
        for a in value if isinstance(value, tuple) else (value,):
            if isinstance(a, np.ndarray):
                self._add(node, a)
            elif isinstance(a, int) and a.bit_length() > MAX_INT_BITS:
                raise vocabulary.FormulaRuntimeError(f"line {getattr(node, 'lineno', 1)}: an integer over {MAX_INT_BITS} bits")
        return value

    def _add(self, node: ast.AST, a: np.ndarray) -> None:
        self.elements += a.size
        if self.elements > MAX_WORK:
            raise vocabulary.FormulaRuntimeError(
                f"line {getattr(node, 'lineno', 1)}: the evaluation made over {MAX_WORK} array elements")


_ARRAYS = (np.ndarray, np.generic)


def _check_int_op(node: ast.BinOp, left: Any, right: Any) -> None:
    """Integer products and powers are refused before they grow past MAX_INT_BITS."""
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    bits = {ast.Mult: lambda: left.bit_length() + right.bit_length(),
            ast.Pow: lambda: left.bit_length() * abs(right)}.get(type(node.op), lambda: 0)()
    if bits > MAX_INT_BITS:
        raise vocabulary.FormulaRuntimeError(f"line {node.lineno}: an integer over {MAX_INT_BITS} bits")


Program = Callable[[dict[str, Any], _Work], Any]


def _compile(node: ast.AST) -> Program:
    """A closure computing `node` from a scope under `_Work`'s bounds; only the node kinds `_check` admits exist here."""
    if isinstance(node, ast.Constant):
        constant = node.value
        return lambda scope, work: constant
    if isinstance(node, ast.Name):
        key = node.id
        return lambda scope, work: scope[key]
    if isinstance(node, ast.BinOp):
        left, right, op = _compile(node.left), _compile(node.right), _BINOPS[type(node.op)]

        def binop(scope: dict[str, Any], work: _Work) -> Any:
            a, b = left(scope, work), right(scope, work)
            if isinstance(a, _SEQUENCES) or isinstance(b, _SEQUENCES):
                _check_sequence_op(node, a, b)
            _check_int_op(node, a, b)
            work.before(node, a, b)
            return work.after(node, op(a, b))
        return binop
    if isinstance(node, ast.UnaryOp):
        unary, operand = _UNARY[type(node.op)], _compile(node.operand)
        return lambda scope, work: work.after(node, unary(operand(scope, work)))
    if isinstance(node, ast.BoolOp):
        is_and, subs = isinstance(node.op, ast.And), [_compile(v) for v in node.values]

        def boolop(scope: dict[str, Any], work: _Work) -> Any:
            value: Any = is_and
            for sub in subs:
                value = sub(scope, work)
                if bool(value) != is_and:
                    return value
            return value
        return boolop
    if isinstance(node, ast.Compare):
        first = _compile(node.left)
        pairs = [(_COMPARE[type(op)], _compile(c)) for op, c in zip(node.ops, node.comparators)]
        if len(pairs) == 1:
            (compare, other), = pairs

            def single(scope: dict[str, Any], work: _Work) -> Any:
                a, b = first(scope, work), other(scope, work)
                work.before(node, a, b)
                out = work.after(node, compare(a, b))
                if TRACE in scope:
                    scope[TRACE].compare(node, a, b, out)
                return out
            return single

        def chain(scope: dict[str, Any], work: _Work) -> Any:
            left = first(scope, work)
            for compare, other in pairs:
                right = other(scope, work)
                work.before(node, left, right)
                if not work.after(node, compare(left, right)):
                    return False
                left = right
            return True
        return chain
    if isinstance(node, ast.IfExp):
        test, body, orelse = _compile(node.test), _compile(node.body), _compile(node.orelse)

        def ifexp(scope: dict[str, Any], work: _Work) -> Any:
            taken = test(scope, work)
            if TRACE in scope:
                scope[TRACE].condition(node.test, taken)
            return body(scope, work) if taken else orelse(scope, work)
        return ifexp
    if isinstance(node, ast.Call):
        name = node.func.id  # type: ignore[attr-defined]
        args = [_compile(a) for a in node.args]
        keywords = [(k.arg, _compile(k.value)) for k in node.keywords]

        def call(scope: dict[str, Any], work: _Work) -> Any:
            values = [a(scope, work) for a in args]
            kwargs = {k: v(scope, work) for k, v in keywords}  # _check admits no **kwargs: every k is a name
            if name == "where" and values and TRACE in scope:
                scope[TRACE].condition(node.args[0], values[0])
            work.before(node, *values, *kwargs.values())
            return work.after(node, scope[name](*values, **kwargs))  # type: ignore[arg-type]

        def positional(scope: dict[str, Any], work: _Work) -> Any:  # `call` without keywords: most calls
            values = [a(scope, work) for a in args]
            if is_where and values and TRACE in scope:
                scope[TRACE].condition(node.args[0], values[0])
            work.before(node, *values)
            return work.after(node, scope[name](*values))
        is_where = name == "where"
        return call if keywords else positional
    if isinstance(node, ast.Tuple):
        items = [_compile(e) for e in node.elts]
        return lambda scope, work: tuple(e(scope, work) for e in items)
    if isinstance(node, ast.List):
        items = [_compile(e) for e in node.elts]
        return lambda scope, work: [e(scope, work) for e in items]
    if isinstance(node, ast.Subscript):
        base, index = _compile(node.value), _compile(node.slice)

        def subscript(scope: dict[str, Any], work: _Work) -> Any:
            v, i = base(scope, work), index(scope, work)
            work.before(node, *(i if isinstance(i, tuple) else (i,)))  # fancy indices broadcast together
            return work.after(node, v[i])
        return subscript
    if isinstance(node, ast.Slice):
        parts = [None if p is None else _compile(p) for p in (node.lower, node.upper, node.step)]
        return lambda scope, work: slice(*(None if p is None else p(scope, work) for p in parts))
    raise FormulaError(f"cannot evaluate {type(node).__name__}")  # unreachable after _check
