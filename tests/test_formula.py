import numpy as np
import pytest

from harness.spec.formula import FormulaError, parse
from harness.spec.vocabulary import Context, FormulaRuntimeError

SMOOTH = """
d = abs(input - target)
loss = where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta)
result = reduce(loss, reduction)
"""


def test_smooth_l1_formula_evaluates_in_float64():
    f = parse(SMOOTH, {"input", "target", "beta", "reduction"})
    out = f.evaluate({"input": np.array([1.0, 2, 3]), "target": np.array([1.0, 2, 2]), "beta": 1.0, "reduction": "none"})
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.5])
    mean = f.evaluate({"input": np.array([0.0, 3.0]), "target": np.array([0.5, 0.0]), "beta": 1.0, "reduction": "mean"})
    assert mean == pytest.approx((0.125 + 2.5) / 2)


def test_reductions_are_recorded_for_the_tolerance_policy():
    f = parse("result = sum(x)", {"x"})
    ctx = Context()
    f.evaluate({"x": np.array([1.0, -2.0, 3.0, -4.0])}, ctx)
    assert ctx.accumulation.count == 4 and ctx.accumulation.magnitude == 10.0


def test_conditional_expression_is_lazy():
    f = parse("result = 1 if flag else missing_fn_result", {"flag", "missing_fn_result"})
    assert f.evaluate({"flag": True}) == 1  # the other branch is never evaluated


def test_conditions_and_tuples():
    c = parse("shape(a) != shape(b)[:1] + shape(b)[2:]", {"a", "b"}, condition=True)
    assert c.evaluate({"a": np.zeros((2, 3)), "b": np.zeros((2, 5, 3))}) is False
    assert c.evaluate({"a": np.zeros((2,)), "b": np.zeros((2, 5, 3))}) is True


@pytest.mark.parametrize("source, needle", [
    ("result = x.__class__", "Attribute"),
    ("result = x.sum()", "Attribute"),
    ("import os\nresult = 1", "Import"),
    ("if x:\n    result = 1", "If"),
    ("result = (lambda: 1)()", "Lambda"),
    ("result = [i for i in x]", "ListComp"),
    ("result = {i: i for i in x}", "DictComp"),
    ("result = __import__('os')", "dunder"),
    ("result = open('/etc/passwd')", "'open'"),
    ("result = x ** 100000", "power"),
    ("result = x ** y", "power"),
    ("result = f'{x}'", "JoinedStr"),
    ("y = 1", "never assigns `result`"),
    ("result = (x := 1)", "NamedExpr"),
    ("result = x[0](1)", "not a vocabulary name"),
    ("abs = 1\nresult = abs", "vocabulary name"),
    ("result = (", "syntax"),
])
def test_rejections_name_the_reason(source, needle):
    with pytest.raises(FormulaError) as err:
        parse(source, {"x", "y"})
    assert needle in err.value.message
    assert err.value.line >= 1


def test_rejection_points_at_the_line():
    with pytest.raises(FormulaError) as err:
        parse("a = x\nb = a\nresult = b.real", {"x"})
    assert err.value.line == 3


def test_deep_nesting_is_rejected():
    with pytest.raises(FormulaError, match="nests deeper"):
        parse("result = " + "-" * 80 + "x", {"x"})


def test_runtime_bounds():
    with pytest.raises(FormulaRuntimeError):
        parse("result = ones(10 ** 12)", set()).evaluate({})
    with pytest.raises(FormulaRuntimeError):
        parse("result = 'a' * 10 ** 9", set()).evaluate({})
