"""The family-a vocabulary additions: logistic and log-domain helpers, stable and dtype preserving."""
from __future__ import annotations

import math

import numpy as np
import pytest

from harness import formula
from harness.dtypes import BFLOAT16
from harness.vocabulary import Context, make_vocabulary

V = make_vocabulary(Context())


def test_sigmoid_matches_the_definition_and_saturates_without_overflow() -> None:
    x = np.array([-3.0, 0.0, 2.5])
    np.testing.assert_allclose(V["sigmoid"](x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    with np.errstate(over="raise"):
        out = V["sigmoid"](np.array([-1000.0, 1000.0]))
    assert out.tolist() == [0.0, 1.0]


def test_softplus_and_log_sigmoid_are_stable_at_large_magnitudes() -> None:
    x = np.array([-50.0, -1.0, 0.0, 1.0, 50.0, 800.0])
    with np.errstate(over="raise"):
        sp, ls = V["softplus"](x), V["log_sigmoid"](x)
    np.testing.assert_allclose(sp[1:5], np.log1p(np.exp(x[1:5])), rtol=1e-15)
    assert sp[-1] == 800.0 and sp[0] == pytest.approx(math.exp(-50.0), rel=1e-12)
    np.testing.assert_allclose(ls, -V["softplus"](-x), rtol=0)
    assert ls[0] == pytest.approx(-50.0, rel=1e-15)  # log(sigmoid(-50)) without underflowing to -inf


def test_xlogy_takes_zero_times_log_zero_as_zero_but_keeps_other_infinities() -> None:
    x = np.array([0.0, 0.0, 2.0, 1.0])
    y = np.array([0.0, 5.0, math.e, 0.0])
    out = V["xlogy"](x, y)
    assert out[0] == 0.0 and out[1] == 0.0 and out[2] == pytest.approx(2.0) and out[3] == -np.inf


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "log_sigmoid"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, BFLOAT16])
def test_unary_helpers_preserve_low_precision_dtypes(name: str, dtype: type) -> None:
    x = np.array([-2.0, 0.5], dtype=dtype)
    assert V[name](x).dtype == np.dtype(dtype)


def test_xlogy_preserves_dtype_and_integers_widen_to_float() -> None:
    assert V["xlogy"](np.array([0.5], np.float16), np.array([2.0], np.float16)).dtype == np.float16
    assert V["sigmoid"](np.array([1, 2])).dtype == np.float64


def test_formulas_can_call_the_additions() -> None:
    f = formula.parse("result = sum(xlogy(p, p)) - sum(log_sigmoid(x)) + sum(softplus(x)) + sum(sigmoid(x))", {"p", "x"})
    p, x = np.array([0.0, 0.5]), np.array([0.0])
    expected = 0.5 * math.log(0.5) + math.log(2) + math.log(2) + 0.5
    assert f.evaluate({"p": p, "x": x}) == pytest.approx(expected)
