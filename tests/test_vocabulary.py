"""Vocabulary additions against independent computations: distance, log-space and CTC operations;
logistic and log-domain helpers (stable and dtype preserving)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from harness.spec import formula
from harness.spec.dtypes import BFLOAT16
from harness.spec.vocabulary import Context, make_vocabulary

V = make_vocabulary(Context())


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_norm_matches_numpy_linalg_and_keeps_dtype(p):
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    got = V["norm"](x, p, -1)
    np.testing.assert_allclose(got, np.linalg.norm(x.astype(np.float64), ord=p, axis=-1), rtol=1e-5)
    assert got.dtype == np.float32


def test_norm_of_an_empty_axis_is_zero():
    assert V["norm"](np.zeros((2, 0)), 2.0, -1).tolist() == [0.0, 0.0]
    assert V["norm"](np.zeros((2, 0)), math.inf, -1).tolist() == [0.0, 0.0]


def test_pairwise_distance_adds_eps_inside_the_norm():
    a, b = np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]])
    got = V["pairwise_distance"](a, b, 2.0, 1e-3)
    assert got.tolist() == pytest.approx([math.sqrt(2) * 1e-3])
    assert V["pairwise_distance"](a, b + 3, 1.0, 0.0).tolist() == [6.0]


def test_cosine_similarity_with_and_without_eps_floor():
    a, b = np.array([[3.0, 4.0], [0.0, 0.0]]), np.array([[4.0, 3.0], [1.0, 0.0]])
    with np.errstate(all="ignore"):
        plain = V["cosine_similarity"](a, b, -1)
    assert plain[0] == pytest.approx(24 / 25) and np.isnan(plain[1])
    floored = V["cosine_similarity"](a, b, -1, 1e-8)
    assert floored.tolist() == pytest.approx([24 / 25, 0.0])


def test_logsumexp_is_stable_and_matches_the_naive_sum():
    x = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -np.inf]])
    got = V["logsumexp"](x, -1)
    assert got[0] == pytest.approx(np.log(np.exp(1) + np.exp(2) + np.exp(3)))
    assert got[1] == pytest.approx(1000 + np.log(2))
    assert V["logsumexp"](np.full(3, -np.inf), -1) == -np.inf


def _ctc_brute_force(lp: np.ndarray, labels: list, blank: int) -> float:
    """-log of the summed probability of every path that collapses to `labels` (repeats merged, blanks dropped)."""
    steps, classes = lp.shape
    total = 0.0
    for path in itertools.product(range(classes), repeat=steps):
        merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        if [c for c in merged if c != blank] == list(labels):
            total += math.exp(sum(lp[t, c] for t, c in enumerate(path)))
    return -math.log(total) if total > 0 else math.inf


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.mark.parametrize("blank", [0, 2])
def test_ctc_nll_matches_brute_force_enumeration_of_alignments(blank):
    rng = np.random.default_rng(blank)
    targets = [[1], [1, 1], [1, 3], [3, 1, 3], [], [1, 1, 1]]
    for labels in targets:
        labels = [c if c != blank else 0 for c in labels] if blank else labels
        for steps in range(0, 5):
            lp = _log_softmax(rng.standard_normal((steps, 1, 4)))
            padded = np.array([labels + [1] * (3 - len(labels))])
            got = V["ctc_nll"](lp, padded, np.array([steps]), np.array([len(labels)]), blank)
            want = _ctc_brute_force(lp[:, 0, :], labels, blank) if steps else (0.0 if not labels else math.inf)
            assert got.shape == (1,)
            if math.isinf(want):
                assert got[0] == math.inf, (labels, steps)
            else:
                assert got[0] == pytest.approx(want, rel=1e-10), (labels, steps)


def test_ctc_nll_reads_lengths_per_sample_and_concatenated_targets_like_padded():
    rng = np.random.default_rng(5)
    lp = _log_softmax(rng.standard_normal((4, 2, 3)))
    padded = np.array([[1, 2, 9], [2, 0, 0]])  # beyond each target length: padding never read
    lengths_in, lengths_t = np.array([4, 3]), np.array([2, 1])
    got = V["ctc_nll"](lp, padded, lengths_in, lengths_t, 0)
    assert got[0] == pytest.approx(_ctc_brute_force(lp[:4, 0], [1, 2], 0))
    assert got[1] == pytest.approx(_ctc_brute_force(lp[:3, 1], [2], 0))
    concatenated = V["ctc_nll"](lp, np.array([1, 2, 2]), lengths_in, lengths_t, 0)
    np.testing.assert_allclose(concatenated, got)


def test_ctc_nll_keeps_the_dtype_and_handles_unbatched_input():
    lp = _log_softmax(np.random.default_rng(1).standard_normal((3, 1, 3))).astype(np.float32)
    got = V["ctc_nll"](lp, np.array([[1]]), np.array([3]), np.array([1]), 0)
    assert got.dtype == np.float32
    single = V["ctc_nll"](lp[:, 0, :], np.array([1]), np.array(3), np.array(1), 0)
    assert np.ndim(single) == 0 and single == pytest.approx(got[0])


def test_ctc_nll_refuses_lengths_beyond_the_inputs():
    lp = np.zeros((2, 1, 3))
    with pytest.raises(Exception, match="lengths"):
        V["ctc_nll"](lp, np.array([[1]]), np.array([3]), np.array([1]), 0)
    with pytest.raises(Exception, match="outside"):
        V["ctc_nll"](lp, np.array([[5]]), np.array([2]), np.array([1]), 0)


def test_cumprod_marks_the_leading_run_of_a_condition():
    labels = np.array([[2, 0, -1, 3], [-1, 1, 1, 1], [0, 1, 2, 3]])
    assert V["cumprod"](labels >= 0, -1).tolist() == [[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]
    assert V["cumprod"](np.array([2.0, 3.0], np.float32)).dtype == np.float32
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


@pytest.mark.parametrize(("value", "is_float"), [(1.0, True), (np.float64(1.0), True), (np.float32(1.0), False),
                                                 (1, False), (True, False), ("1.0", False), (None, False)])
def test_instance_of_tests_the_python_type_as_a_framework_validator_does(value, is_float):
    assert V["instance_of"](value, "float") is is_float
    assert V["instance_of"](value, "float", "int") is (is_float or type(value) is int)


def test_a_bool_is_an_int_only_where_bool_is_named():
    assert not V["instance_of"](True, "int")
    assert V["instance_of"](True, "int", "bool")
    assert not V["instance_of"](np.bool_(True), "bool")  # numpy's bool is not Python's


def test_instance_of_refuses_an_unknown_type_name():
    with pytest.raises(Exception, match="type names"):
        V["instance_of"](1.0, "double")
