"""Fuzzing the formula sandbox: generated programs full of escape attempts and resource bombs.

Hypothesis builds formulas from a grammar that mixes the legitimate vocabulary with what an
attacker would try (attribute chains, dunders, __import__, format strings, lambdas, generators,
walrus, starred and keyword tricks) and with bombs (huge exponents and integers, huge and
broadcast shapes, squaring chains, deep nesting). tests/formula_oracle.py decides: no escape,
every evaluation bounded in time and memory. HARNESS_FUZZ_EXAMPLES scales the example counts for
a long run (the normal suite runs a bounded number).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.spec import vocabulary

from .formula_oracle import VARIABLES, check

EXAMPLES = int(os.environ.get("HARNESS_FUZZ_EXAMPLES", "250"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
OUTCOMES: Counter = Counter()

FUNCTIONS = sorted(vocabulary.FUNCTIONS)
HOSTILE_NAMES = ["__import__", "open", "eval", "exec", "compile", "getattr", "globals", "locals", "vars", "type",
                 "object", "breakpoint", "__builtins__", "__class__", "_", "os", "sys", "np", "numpy", "self",
                 "scope", "node", "print", "input", "memoryview", "bytearray", "__loader__", "__spec__"]
ATTRIBUTES = ["__class__", "__mro__", "__subclasses__", "__globals__", "__builtins__", "__dict__", "__code__",
              "__init__", "__reduce_ex__", "__getattribute__", "real", "T", "ctypes", "tofile", "base", "f_back",
              "gi_frame", "format", "join", "__format__", "item", "tolist", "data"]
ATOMS = sorted(VARIABLES) + ["pi", "inf", "nan", "result", "a", "b", "c"]
CONSTANTS = ["0", "1", "-1", "2", "16", "0.5", "1e308", "-0.0", "10 ** 16", "2 ** 63", "'mean'", "'none'",
             "'{0.__class__}'", "'%s%s%s'", "'{x.__init__.__globals__}'", "'\\x00'", "None", "True", "()", "[]",
             "9" * 150, "4096", "100000", "10000000", "(3, 4)", "(100000, 100000)", "(-1,)"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "@", "<<", ">>", "&", "|", "^"]
COMPARES = ["<", "<=", "==", "!=", ">", ">=", "in", "not in", "is", "is not"]


@st.composite
def expressions(draw, depth: int = 3) -> str:
    if depth <= 0 or draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(ATOMS + CONSTANTS))
    sub = expressions(depth - 1)
    kind = draw(st.integers(0, 21))
    a, b = draw(sub), draw(sub)
    if kind <= 3:
        return f"({a} {draw(st.sampled_from(BINOPS))} {b})"
    if kind == 4:
        return f"({a} {draw(st.sampled_from(COMPARES))} {b})"
    if kind <= 7:
        fn = draw(st.sampled_from(FUNCTIONS + HOSTILE_NAMES[:6]))
        args = ", ".join(draw(st.lists(sub, max_size=3)))
        extra = draw(st.sampled_from(["", ", axis=-1", ", like=x", ", out=x", ", dtype='O'", ", *x", ", **{}",
                                      ", key=abs"]))
        return f"{fn}({args}{extra})"
    if kind == 8:
        return f"{a}.{draw(st.sampled_from(ATTRIBUTES))}" + "".join(
            f".{x}" for x in draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=3)))
    if kind == 9:
        return f"{a}[{draw(st.sampled_from([b, f'{b}:', ':, None', '...', f'{b}, {a}', '::-1']))}]"
    if kind == 10:
        return draw(st.sampled_from([f"(lambda: {a})()", f"(lambda *q: q)({a})", f"[{a} for v in {b}]",
                                     f"({a} for v in {b})", f"{{{a}: {b}}}", f"{{{a}}}", f"(v := {a})",
                                     f"[*{a}]", f"f'{{{a}!r:>{{{b}}}}}'", f"'{{}}'.format({a})",
                                     f"'%s' % {a}", f"{a} if {b} else {a}", f"not {a}", f"-{a}", f"~{a}",
                                     f"{a} and {b}", f"{a} or {b}", f"{{**{a}}}", f"await {a}", f"(yield {a})"]))
    if kind == 11:
        return f"{draw(st.sampled_from(HOSTILE_NAMES))}({a})"
    if kind == 12:
        return f"({a}, {b})"
    if kind == 13:
        return f"[{a}, {b}]"
    if kind == 14:  # exponent bombs, integer and float
        return f"({a}) ** {draw(st.sampled_from(['16', '-16', '16.0', '17', '1e9', 'x', '(16)', '0.5']))}"
    if kind == 15:  # shape bombs
        n = draw(st.sampled_from(["10 ** 4", "10 ** 6", "10 ** 9", "2 ** 31", "4096", "100000", "-1", "n"]))
        return draw(st.sampled_from([f"ones({n})", f"zeros(({n}, {n}))", f"one_hot(x, {n})",
                                     f"broadcast_to(x, ({n}, {n}))", f"reshape(ones({n}), ({n}, 1)) * ones({n})",
                                     f"expand_dims(ones({n}), 0) * expand_dims(ones({n}), 1)",
                                     f"take(x, zeros({n}))", f"ones({n})[:, None] + ones({n})",
                                     f"where(ones({n}) > 0, ones(({n}, 1)), 0)", f"max(ones({n}))",
                                     f"x[zeros({n}) > 0, None]", f"'a' * {n}", f"(1,) * {n}", f"[0] * {n}"]))
    return draw(sub)


@st.composite
def programs(draw) -> str:
    """Assignments, squaring and power chains among them, ending in `result`."""
    names = ["a", "b", "c"]
    lines = [f"{draw(st.sampled_from(names))} = {draw(expressions())}" for _ in range(draw(st.integers(0, 4)))]
    if draw(st.booleans()):  # a chain that doubles (or multiplies by 16) an integer's size each line
        op = draw(st.sampled_from(["a * a", "a ** 16", "a ** 2", "a + a", "ones(a)"]))
        lines += ["a = 10 ** 16"] + [f"a = {op}"] * draw(st.integers(1, 30))
    if draw(st.integers(0, 4)) == 0:  # nesting near and beyond the depth limit
        lines.append("a = " + "(" * draw(st.integers(30, 120)) + "x" + ")" * draw(st.integers(30, 120)))
        lines.append("b = " + "-" * draw(st.integers(30, 300)) + "x")
    lines.append(f"result = {draw(expressions())}")
    return "\n".join(lines)


@SETTINGS
@given(programs())
def test_no_generated_formula_escapes_or_runs_unbounded(source):
    OUTCOMES[check(source)] += 1


@SETTINGS
@given(expressions(depth=4))
def test_no_generated_condition_escapes_or_runs_unbounded(source):
    OUTCOMES[check(source, condition=True)] += 1


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("()[]{}.,:;=+-*/%@<>!&|^~'\"\\_ \n\tabcdefxyz0123456789")) |
               st.characters(), max_size=300))
def test_arbitrary_text_is_rejected_cleanly_or_bounded(source):
    """Any text at all: parse raises only FormulaError, evaluation stays in bounds."""
    OUTCOMES[check(source)] += 1


@pytest.mark.parametrize("source", [
    "result = ((((10 ** 16) ** 16) ** 16) ** 16) ** 16",
    "a = 10 ** 16\n" + "a = a * a\n" * 40 + "result = a",
    "result = expand_dims(ones(100000), 0) * expand_dims(ones(100000), 1)",
    "result = ones(10000001)",
    "a = ones(10000000)\nb = a + a\nc = b + a\nd = c + a\nresult = d + a + a + a",
    "a = ones(4000000)\n" + "a = a + a\n" * 60 + "result = a",
    "result = x[zeros(100000) > -1, None] * ones(100000)",
    "result = max(ones(10000000))",
    "result = " + "-" * 200 + "x",
    "result = " + "[" * 150 + "x" + "]" * 150,
    "result = " + "abs(" * 150 + "x" + ")" * 150,
    "result = int('9' * 200) ** 16",
    "result = 'a' * 10 ** 9",
])
def test_known_bombs_are_refused_quickly(source):
    assert check(source) in ("rejected", "failed")


def test_the_oracle_catches_an_escape(monkeypatch):
    """A sandbox broken on purpose (a vocabulary entry that imports a module) must fail the oracle."""
    real = vocabulary.scope  # what an evaluation reads its names from
    monkeypatch.setattr(vocabulary, "scope", lambda ctx: {**real(ctx), "leak": lambda: __import__("json")})
    monkeypatch.setattr(vocabulary, "NAMES", vocabulary.NAMES | {"leak"})
    monkeypatch.setattr(vocabulary, "FUNCTIONS", vocabulary.FUNCTIONS | {"leak"})
    monkeypatch.delitem(sys.modules, "json")  # so the import really happens (an audit event)
    with pytest.raises(AssertionError, match="audit events"):
        check("result = leak()")
    with pytest.raises(AssertionError, match="handed back"):
        check("result = leak()")  # imported now: no event, but a module is not data


def test_outcomes_cover_all_three_kinds():
    """The fuzzers above must reach evaluation, not only rejections (run after them, in file order)."""
    if sum(OUTCOMES.values()) < 100:
        pytest.skip("run with the fuzz tests above")
    print(f"\nformula fuzz outcomes: {dict(OUTCOMES)}")  # shown with -s
    assert OUTCOMES["rejected"] and OUTCOMES["failed"] and OUTCOMES["value"], OUTCOMES


ATHERIS = Path(__file__).parent / "fuzz_formula_atheris.py"


def test_atheris_finds_no_escape(tmp_path):
    pytest.importorskip("atheris", reason="atheris is optional (pip install atheris)")
    runs = max(500, EXAMPLES * 8)
    proc = subprocess.run([sys.executable, str(ATHERIS), f"-runs={runs}", "-max_total_time=600",
                           f"-artifact_prefix={tmp_path}/"], capture_output=True, text=True, timeout=900,
                          cwd=Path(__file__).parent.parent, env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"Done {runs} runs" in proc.stderr, proc.stderr[-2000:]
