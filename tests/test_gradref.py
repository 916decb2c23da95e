"""The reference gradient: forward-mode rules against hand-derived derivatives, kinks, nan handling."""
from pathlib import Path

import numpy as np
import pytest

from harness.cases.case import Case
from harness.judge import dual, gradref
from harness.spec import formula
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
SMOOTH = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")
L1 = load_spec(ROOT / "specs" / "losses" / "l1_loss.yaml")
CE = load_spec(ROOT / "specs" / "losses" / "cross_entropy.yaml")


def grad(source, names=("x",), **arrays):
    f = formula.parse(source, set(arrays) | {"reduction", "beta"})
    case = Case("t", {k: np.asarray(v) for k, v in arrays.items()}, {})
    return gradref.derive(f, case, list(names))


def test_elementwise_rules_match_hand_derivatives():
    x = np.array([0.3, 1.7, 2.5])
    rules = {"exp(x)": np.exp(x), "log(x)": 1 / x, "sqrt(x)": 0.5 / np.sqrt(x), "tanh(x)": 1 - np.tanh(x) ** 2,
             "log1p(x)": 1 / (1 + x), "expm1(x)": np.exp(x), "square(x)": 2 * x, "x ** 3": 3 * x ** 2,
             "1 / x": -1 / x ** 2, "2 - x * x": -2 * x, "abs(x - 1)": np.sign(x - 1), "clip(x, 0.5, 2)": [0, 1, 0]}
    for expr, want in rules.items():
        got = grad(f"result = sum({expr})", x=x)
        assert got.error is None, expr
        np.testing.assert_allclose(got.inputs["x"].value, want, rtol=1e-14, err_msg=expr)


def test_smooth_l1_gradient_is_d_over_beta_inside_and_sign_outside_for_every_reduction():
    x, t = np.array([0.25, 3.0, -2.0, 0.5]), np.array([0.0, 1.0, 0.0, 0.5])
    for reduction, scale in (("sum", 1.0), ("none", 1.0), ("mean", 0.25)):
        case = Case("smooth_l1_loss", {"input": x, "target": t}, {"beta": 0.5, "reduction": reduction})
        ref = gradref.derive(SMOOTH.formula, case, ["input", "target"])
        want = np.array([0.5, 1.0, -1.0, 0.0]) * scale  # d / beta = 0.25 / 0.5, then sign(d), sign(d), and 0 at d == 0
        np.testing.assert_allclose(ref.inputs["input"].value, want, rtol=1e-15)
        np.testing.assert_allclose(ref.inputs["target"].value, -want, rtol=1e-15)
        assert not ref.inputs["input"].kinks.any(), "SmoothL1 with beta > 0 is continuously differentiable"


def test_cross_entropy_gradient_matches_softmax_minus_smoothed_target_with_weights():
    rng = np.random.default_rng(3)
    x, target, w = rng.standard_normal((4, 3)), np.array([0, 2, -100, 1]), np.array([0.5, 2.0, 1.5])
    eps = 0.2
    case = Case("cross_entropy", {"input": x, "target": target, "weight": w},
                {"ignore_index": -100, "reduction": "mean", "label_smoothing": eps}, variant="indices")
    got = gradref.derive(CE.formula, case, ["input"]).inputs["input"].value
    keep = target != -100
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    onehot = np.eye(3)[np.where(keep, target, 0)]
    # loss_n = w_y (1-eps) (-log p_y) + eps/C sum_c w_c (-log p_c); d/dx of -log p_c is p - e_c
    per = (1 - eps) * w[np.where(keep, target, 0)][:, None] * (p - onehot) + eps / 3 * (w.sum() * p - w)
    want = np.where(keep[:, None], per, 0) / w[target[keep]].sum()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_kink_of_l1_is_found_with_both_one_sided_derivatives():
    case = Case("l1_loss", {"input": np.array([1.0, 2.0, 0.0]), "target": np.array([1.0, 0.0, 1e-30])}, {"reduction": "sum"})
    g = gradref.derive(L1.formula, case, ["input"]).inputs["input"]
    assert g.kinks.tolist() == [True, False, False], "a zero next to 1e-30 is no tie: the probe shift must not cross it"
    assert (g.left[0], g.right[0]) == (-1.0, 1.0)
    assert g.side("min_norm")[0] == 0 and g.side("mean")[0] == 0 and g.side("right")[0] == 1
    assert g.value[2] == -1.0


def test_asymmetric_kink_and_ties_between_elements():
    relu = grad("result = sum(maximum(x, 0))", x=np.array([0.0, 2.0])).inputs["x"]
    assert relu.kinks.tolist() == [True, False]
    assert (relu.left[0], relu.right[0], relu.side("min_norm")[0], relu.side("mean")[0]) == (0.0, 1.0, 0.0, 0.5)
    shifted = grad("result = sum(maximum(x, 0) + x)", x=np.array([0.0])).inputs["x"]
    assert shifted.side("min_norm")[0] == 1.0, "both sides positive: the least-magnitude subgradient is the left one"
    top = grad("result = amax(x)", x=np.array([3.0, 1.0, 3.0])).inputs["x"]
    assert top.kinks.tolist() == [True, False, True], "a tie between elements is a kink for each of them"


def test_zero_tangents_stay_zero_so_nan_stays_on_its_own_element():
    g = grad("result = sum(x * x)", x=np.array([np.nan, 2.0])).inputs["x"]
    assert np.isnan(g.value[0]) and g.value[1] == 4.0
    m = grad("result = mean(abs(x))", x=np.array([np.inf, -1.0])).inputs["x"]
    assert m.value.tolist() == [0.5, -0.5]
    sel = grad("result = sum(where(x > 0, sqrt(x), 0))", x=np.array([0.0, 4.0])).inputs["x"]
    assert sel.value.tolist() == [0.0, 0.25], "the branch not taken contributes nothing, even an infinite derivative"


def test_low_precision_evaluation_gives_the_rounding_noise_estimate():
    x = np.array([0.1, 0.7], np.float16)
    g = grad("result = sum(exp(x) * 3)", x=x).inputs["x"]
    assert g.lowp is not None and g.lowp.dtype == np.float64
    assert 0 < np.abs(g.lowp - g.value).max() < 1e-2
    assert g.scale == pytest.approx(float(np.exp(np.float64(x[1])) * 3))


def test_an_operation_without_a_rule_falls_back_to_central_differences():
    x = np.array([0.3, 1.7, 0.0, -2.0])
    ref = grad("result = float(sum(exp(x))) + sum(abs(x))", x=x)
    assert ref.error is None and ref.method.startswith("central differences") and "'float'" in ref.method
    g = ref.inputs["x"]
    assert g.unjudged.tolist() == [False, False, True, False], "within a step of the kink of |x| at 0: not estimated"
    ok = ~g.unjudged
    np.testing.assert_allclose(g.value[ok], (np.exp(x) + np.sign(x))[ok], rtol=1e-9)
    assert (np.abs(g.value - (np.exp(x) + np.sign(x)))[ok] <= g.slack[ok]).all(), "the slack bounds the estimate's error"
    assert (g.slack[ok] < 1e-7 * np.abs(g.value[ok])).all()


def test_every_vocabulary_name_has_a_rule_or_a_guard():
    rules = dual.rules(__import__("harness.spec.vocabulary", fromlist=["Context"]).Context())
    from harness.spec.vocabulary import CONSTANTS, NAMES

    assert set(rules) == set(NAMES) - set(CONSTANTS)
    with pytest.raises(dual.NoRule):
        rules["float"](dual.seed(np.array([1.0])))


def test_empty_inputs_give_empty_gradients():
    case = Case("l1_loss", {"input": np.zeros((0, 3)), "target": np.zeros((0, 3))}, {"reduction": "mean"})
    ref = gradref.derive(L1.formula, case, ["input"])
    assert ref.error is None and ref.inputs["input"].value.shape == (0, 3)


def test_a_domain_boundary_is_not_a_kink():
    g = grad("result = sum(sqrt(x))", x=np.array([0.0, 4.0])).inputs["x"]
    assert not g.kinks.any(), "left of 0 sqrt is nan: a boundary, judged by the formula's own value"
    assert g.value.tolist() == [np.inf, 0.25]


def test_maximum_and_minimum_keep_numpy_nan_propagation():
    g = grad("result = sum(x / maximum(sum(x * y), 1e-8))", names=("x",), x=np.array([1.0, 2.0]), y=np.array([np.nan, 1.0]))
    assert np.isnan(g.inputs["x"].value).all(), "maximum(nan, eps) is nan, so the quotient and its gradient are nan"
    m = grad("result = sum(minimum(x, 1.0))", x=np.array([np.nan, 0.5, 2.0])).inputs["x"]
    assert m.value.tolist() == [1.0, 1.0, 0.0], "a nan argument wins and passes its own tangent on"


def test_term_magnitudes_bound_the_rounding_of_a_cancelling_derivative():
    g = grad("result = sum(x * 1000.5 - x * 1000.25 + log_softmax(x * 3)) ", x=np.array([1.0, -2.0])).inputs["x"]
    p = np.exp(3 * np.array([1.0, -2.0])) / np.exp(3 * np.array([1.0, -2.0])).sum()
    np.testing.assert_allclose(g.value, 0.25 + 3 * (1 - 2 * p), rtol=1e-14)
    # |terms|: 1000.5 + 1000.25 from the products, 3 (|t|) + 3 (sum over both softmax terms) from log_softmax
    np.testing.assert_allclose(g.terms, 2000.75 + 3 + 3 * 2 * p, rtol=1e-14)
    assert (g.terms > 500 * np.abs(g.value)).all(), "the sum cancels: rounding is relative to its terms"


@pytest.mark.parametrize("expr", [
    "sum(sigmoid(x) * y)", "sum(softplus(x) * y)", "sum(log_sigmoid(x) * y)", "sum(xlogy(x * x, y * y))",
    "sum(xlogy(y, exp(x)))", "logsumexp(x * y)", "sum(logsumexp(reshape(x, (2, 3)), 1))", "sum(logaddexp(x, y))",
    "norm(x)", "norm(x, 1.0)", "norm(x, 3.0)", "pairwise_distance(x, y)", "cosine_similarity(x, y, -1, 1e-8)",
    "sum(cosine_similarity(reshape(x, (2, 3)), reshape(y, (2, 3)), -1, 1e-8))"])
def test_loss_family_rules_agree_with_central_differences(expr):
    x, y = np.array([0.7, -1.3, 2.1, 0.4, -0.6, 1.5]), np.array([1.1, 0.5, -0.8, 2.0, -1.7, 0.9])
    f = formula.parse(f"result = {expr}", {"x", "y"})
    case = Case("t", {"x": x, "y": y}, {})
    exact = gradref.derive(f, case, ["x"])
    assert exact.method == "forward mode" and exact.error is None, exact.method
    fd = gradref._central_differences(f, {"x": x, "y": y}, "x", x)
    np.testing.assert_allclose(exact.inputs["x"].value, fd.value, rtol=1e-8, atol=1e-10)


def test_loss_family_rules_at_special_points():
    assert grad("result = sum(sigmoid(x))", x=np.array([0.0])).inputs["x"].value.tolist() == [0.25]
    g = grad("result = sum(xlogy(x, y))", names=("x", "y"), x=np.array([0.0, 2.0]), y=np.array([0.0, np.e]))
    assert g.inputs["x"].value.tolist() == [0.0, 1.0], "d/dx xlogy is 0 where x == 0 (0 log 0 = 0)"
    assert g.inputs["y"].value[0] == 0.0 and g.inputs["y"].value[1] == pytest.approx(2 / np.e)
    inf = grad("result = norm(x, inf)", x=np.array([1.0, -3.0, 2.0])).inputs["x"].value
    assert inf.tolist() == [0.0, -1.0, 0.0]


HUBER = load_spec(ROOT / "specs" / "losses" / "huber_loss.yaml")


def test_huge_magnitudes_give_no_spurious_kink():
    # At 4e307 a shift of 2^-40 |x| is about 4e295: far beyond the threshold |d| == delta, so a probe of that size
    # lands in the linear part on both sides of d == 0 and reports a kink where Huber loss is smooth.
    x = np.array([4e307, -3e307, 1e300, 2.5])
    case = Case("huber_loss", {"input": x, "target": x.copy()}, {"delta": 1.0, "reduction": "sum"})
    g = gradref.derive(HUBER.formula, case, ["input", "target"])
    for name in ("input", "target"):
        assert not g.inputs[name].kinks.any(), f"Huber loss is smooth at d == 0 ({name})"
        assert g.inputs[name].value.tolist() == [0.0, 0.0, 0.0, 0.0]
    near = Case("huber_loss", {"input": np.array([4e307]), "target": np.array([4e307])}, {"delta": 1.0, "reduction": "sum"})
    assert not gradref.derive(SMOOTH.formula, near.with_(params={"beta": 1.0, "reduction": "sum"}), ["input"]).inputs[
        "input"].kinks.any(), "SmoothL1 too"


def test_exact_ties_are_still_kinks_at_every_magnitude():
    x = np.array([4e307, -3e307, 1.0])
    case = Case("l1_loss", {"input": x, "target": x.copy()}, {"reduction": "sum"})
    g = gradref.derive(L1.formula, case, ["input"]).inputs["input"]
    assert g.kinks.tolist() == [True, True, True], "|d| at d == 0 has left -1 and right +1 whatever |x| is"
    assert g.left.tolist() == [-1.0, -1.0, -1.0] and g.right.tolist() == [1.0, 1.0, 1.0]
    # a kink exactly on a threshold the formula compares against: |d| == beta, next to a smooth element near it
    big = grad("result = sum(where(x < 1.0, 0.0 * x, x))", x=np.array([1.0, 1.0 + 2 ** -30, 1e300]))
    k = big.inputs["x"]
    assert k.kinks.tolist() == [True, False, False], "x == 1 is on the threshold; 1 + 2^-30 is close to it but not on it"
    assert (k.left[0], k.right[0]) == (0.0, 1.0)


def test_references_derived_side_by_side_in_threads_equal_those_derived_alone():
    """Lanes judge bindings in threads (RunSession): the forward-mode state (`magnitudes`, `margins`) is each
    thread's own, so a reference derived beside another is the one derived alone (kinks, slack and terms too)."""
    import sys
    import threading

    rng = np.random.default_rng(7)
    cases = [Case("smooth_l1_loss", {"input": rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0], 6),
                                     "target": rng.choice([-1.0, 0.0, 0.5, 1.0], 6)},
                  {"beta": 0.5, "reduction": reduction}) for reduction in ("sum", "mean", "none") for _ in range(8)]

    def fields(ref):
        return [(g.value, g.kinks, g.left, g.right, g.slack, g.terms) for g in ref.inputs.values()]

    alone = [fields(gradref.derive(SMOOTH.formula, c, ["input", "target"])) for c in cases]
    got: dict[int, list] = {}

    def derive_all(k: int) -> None:
        got[k] = [fields(gradref.derive(SMOOTH.formula, c, ["input", "target"])) for c in cases]

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns within every derivation
    try:
        threads = [threading.Thread(target=derive_all, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    for k in range(4):
        for mine, theirs in zip(got[k], alone):
            for a, b in zip(mine, theirs):
                for x, y in zip(a, b):
                    if x is None or y is None:
                        assert x is None and y is None
                    else:
                        np.testing.assert_array_equal(x, y)
