"""A spec formula as MathML (browsers render it natively, no script, no network).

The same `ast` tree the interpreter walks, drawn instead of evaluated: `where(c, a, b)` and
`a if c else b` become cases, `abs` bars, `/` fractions, `**` superscripts, `sum` a sigma.
"""
from __future__ import annotations

import ast
from collections.abc import Sequence
from html import escape

GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "lambda": "λ", "sigma": "σ",
         "pi": "π", "mu": "μ", "tau": "τ", "theta": "θ"}
_CMP = {ast.Eq: "=", ast.NotEq: "≠", ast.Lt: "&lt;", ast.LtE: "≤", ast.Gt: "&gt;", ast.GtE: "≥", ast.In: "∈",
        ast.NotIn: "∉", ast.Is: "=", ast.IsNot: "≠"}
_BIN = {ast.Add: ("+", 5), ast.Sub: ("−", 5), ast.Mult: ("⋅", 6), ast.Mod: ("mod", 6), ast.FloorDiv: ("//", 6)}
ATOM = 9


def _mi(name: str) -> str:
    if name in GREEK:
        return f"<mi>{GREEK[name]}</mi>"
    if "_" in name and not name.startswith("_"):
        base, sub = name.split("_", 1)
        if len(sub) <= 3 and base:
            return f"<msub>{_mi(base)}{_mi(sub)}</msub>"
    return f"<mi>{escape(name)}</mi>"


def _paren(inner: str) -> str:
    return f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>"


def _cases(rows: list[tuple[str, str]]) -> str:
    trs = "".join(f"<mtr><mtd>{value}</mtd><mtd>"
                  f"<mtext>&#160;&#160;{('if&#160;' if cond else 'otherwise')}</mtext>{cond}</mtd></mtr>" for value, cond in rows)
    return f"<mrow><mo>{{</mo><mtable>{trs}</mtable></mrow>"


def _args(nodes: Sequence[ast.AST], keywords: list[ast.keyword]) -> str:
    parts = [_expr(n)[0] for n in nodes] + [f"<mrow><mi>{escape(k.arg or '')}</mi><mo>=</mo>{_expr(k.value)[0]}</mrow>"
                                             for k in keywords]
    return "<mo>,</mo>".join(parts)


def _expr(node: ast.AST) -> tuple[str, int]:
    """(MathML, precedence) of one expression."""
    if isinstance(node, ast.Name):
        return _mi(node.id), ATOM
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            return f"<mtext>'{escape(node.value)}'</mtext>", ATOM
        if node.value is None:
            return "<mi>None</mi>", ATOM
        if isinstance(node.value, bool):
            return f"<mi>{node.value}</mi>", ATOM
        return f"<mn>{node.value!r}</mn>", ATOM
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Div):
            return f"<mfrac>{_expr(node.left)[0]}{_expr(node.right)[0]}</mfrac>", ATOM
        if isinstance(node.op, ast.Pow):
            base, prec = _expr(node.left)
            return f"<msup>{base if prec >= ATOM else _paren(base)}{_expr(node.right)[0]}</msup>", 8
        op, prec = _BIN[type(node.op)]
        left, lp = _expr(node.left)
        right, rp = _expr(node.right)
        left = left if lp >= prec else _paren(left)
        right = right if rp > prec or (rp == prec and isinstance(node.op, (ast.Add, ast.Mult))) else _paren(right)
        return f"<mrow>{left}<mo>{op}</mo>{right}</mrow>", prec
    if isinstance(node, ast.UnaryOp):
        inner, prec = _expr(node.operand)
        sign = {ast.USub: "−", ast.UAdd: "+", ast.Not: "¬"}[type(node.op)]
        return f"<mrow><mo>{sign}</mo>{inner if prec >= 7 else _paren(inner)}</mrow>", 7
    if isinstance(node, ast.BoolOp):
        op, prec = ("∧", 2) if isinstance(node.op, ast.And) else ("∨", 1)
        parts = []
        for v in node.values:
            s, p = _expr(v)
            parts.append(s if p > prec else _paren(s))
        return f"<mrow>{f'<mo>{op}</mo>'.join(parts)}</mrow>", prec
    if isinstance(node, ast.Compare):
        parts = [_expr(node.left)[0]]
        for cmp_op, rhs in zip(node.ops, node.comparators):
            parts.append(f"<mo>{_CMP[type(cmp_op)]}</mo>{_expr(rhs)[0]}")
        return f"<mrow>{''.join(parts)}</mrow>", 4
    if isinstance(node, ast.IfExp):
        return _cases(_branches(node.body, node.test, node.orelse)), ATOM
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _call(node), ATOM
    if isinstance(node, (ast.Tuple, ast.List)):
        return _paren(_args(node.elts, [])), ATOM
    if isinstance(node, ast.Subscript):
        base, prec = _expr(node.value)
        return f"<mrow>{base if prec >= ATOM else _paren(base)}<mo>[</mo>{_expr(node.slice)[0]}<mo>]</mo></mrow>", ATOM
    if isinstance(node, ast.Slice):
        parts = [_expr(p)[0] if p is not None else "" for p in (node.lower, node.upper)]
        return f"<mrow>{parts[0]}<mo>:</mo>{parts[1]}</mrow>", ATOM
    return f"<mtext>{escape(ast.unparse(node))}</mtext>", ATOM


def _branches(value: ast.AST, test: ast.AST, orelse: ast.AST) -> list[tuple[str, str]]:
    rows = [(_expr(value)[0], _expr(test)[0])]
    if isinstance(orelse, ast.IfExp):
        return rows + _branches(orelse.body, orelse.test, orelse.orelse)
    if isinstance(orelse, ast.Call) and isinstance(orelse.func, ast.Name) and orelse.func.id == "where" and len(orelse.args) == 3:
        return rows + _branches(orelse.args[1], orelse.args[0], orelse.args[2])
    return rows + [(_expr(orelse)[0], "")]


def _call(node: ast.Call) -> str:
    name, args = node.func.id, node.args  # type: ignore[attr-defined]
    if name == "abs" and len(args) == 1:
        return f"<mrow><mo>|</mo>{_expr(args[0])[0]}<mo>|</mo></mrow>"
    if name == "sqrt" and len(args) == 1:
        return f"<msqrt>{_expr(args[0])[0]}</msqrt>"
    if name == "exp" and len(args) == 1:
        return f"<msup><mi>e</mi>{_expr(args[0])[0]}</msup>"
    if name == "where" and len(args) == 3:
        return _cases(_branches(args[1], args[0], args[2]))
    if name == "sum" and args:
        inner, prec = _expr(args[0])
        under = f"<mrow><mi>axis</mi><mo>=</mo>{_expr(args[1])[0]}</mrow>" if len(args) > 1 else ""
        sigma = f"<munder><mo>∑</mo>{under}</munder>" if under else "<mo>∑</mo>"
        return f"<mrow>{sigma}{inner if prec >= 6 else _paren(inner)}</mrow>"
    if name == "reduce" and len(args) == 2:
        return f"<mrow><msub><mi>reduce</mi>{_expr(args[1])[0]}</msub>{_paren(_expr(args[0])[0])}</mrow>"
    return f"<mrow><mi>{escape(name)}</mi>{_paren(_args(args, node.keywords))}</mrow>"


def formula(source: str) -> str:
    """A formula (assignments) or condition (one expression) as one MathML block."""
    try:
        tree = ast.parse(source.strip())
    except SyntaxError:
        return f"<pre>{escape(source)}</pre>"
    rows = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            lhs, rhs = _expr(stmt.targets[0])[0], _expr(stmt.value)[0]
        elif isinstance(stmt, ast.Expr):
            lhs, rhs = "", _expr(stmt.value)[0]
        else:
            return f"<pre>{escape(source)}</pre>"
        rows.append(f"<mtr><mtd class=\"lhs\">{lhs}</mtd><mtd><mo>=</mo></mtd><mtd>{rhs}</mtd></mtr>")
    return f'<math display="block" class="formula"><mtable>{"".join(rows)}</mtable></math>'
