import numpy as np

from harness.judge.compare import compare, same_result
from harness.spec import dtypes
from harness.spec.vocabulary import Accumulation


def test_exact_and_rounded_values_match():
    e = np.array([0.1, 1.0, 2.5])
    assert compare(e.astype(np.float32), e, "float32").verdict == "match"
    assert compare(e.astype(np.float16), e, "float16").verdict == "match"
    assert compare(dtypes.cast(e, "bfloat16"), e, "bfloat16").verdict == "match"


def test_a_real_difference_is_a_value_verdict_with_metrics():
    out = compare(np.array([1.0, 2.2], np.float32), np.array([1.0, 2.0]), "float32")
    assert out.verdict == "value" and out.mismatched == 1
    assert out.max_abs > 0.19 and out.max_ulp > 1e5
    assert out.mask.tolist() == [False, True]


def test_nan_inf_handled_explicitly():
    e = np.array([np.nan, np.inf, -np.inf, 1.0])
    assert compare(e.copy(), e, "float32").verdict == "match"
    assert compare(np.array([0.0, np.inf, -np.inf, 1.0]), e, "float32").verdict == "value"  # nan must meet nan
    assert compare(np.array([np.nan, -np.inf, -np.inf, 1.0]), e, "float32").verdict == "value"  # sign of inf
    assert compare(np.array([np.nan, np.inf, -np.inf, np.nan]), e, "float32").verdict == "value"  # nan where finite


def test_overflow_of_the_output_dtype_may_be_inf():
    assert compare(np.array([np.inf]), np.array([1e6]), "float16").verdict == "match"
    assert compare(np.array([-np.inf]), np.array([1e6]), "float16").verdict == "value"


def test_signed_zero_compares_equal():
    assert compare(np.array([-0.0]), np.array([0.0]), "float32").verdict == "match"


def test_shape_mismatch():
    assert compare(np.zeros((1,)), np.zeros(()), "float32").verdict == "shape"


def test_rounding_noise_estimate_widens_tolerance_near_cancellation():
    # d - beta/2 with d close to beta/2: float16 result carries the input-scale rounding error
    e = np.array([1e-4])
    lowp = np.array([1e-4 + 4e-4])
    assert compare(np.array([1e-4 + 6e-4]), e, "float16").verdict == "value"
    assert compare(np.array([1e-4 + 6e-4]), e, "float16", lowp=lowp).verdict == "match"


def test_accumulation_scales_with_terms_and_their_magnitude():
    acc = Accumulation(count=10_000, magnitude=10_000.0)
    e = np.array(1.0)  # a sum of large cancelling terms
    assert compare(np.array(1.0 + 2e-3), e, "float32", acc=acc).verdict == "match"
    assert compare(np.array(1.0 + 2e-3), e, "float32").verdict == "value"
    assert compare(np.array(1.5), e, "float32", acc=acc).verdict == "value"


def test_same_result():
    assert same_result(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    assert not same_result(np.array([1.0]), np.array([1.0, 1.0]))


def test_a_scalar_is_judged_as_an_array_of_its_one_element_would_be():
    """Scalars (most losses reduce) take a shortcut in Python floats: it must decide exactly as the array path does,
    at the edge of the tolerance, with scale and accumulation terms, and on nan, inf and overflow."""
    rng = np.random.default_rng(0)
    values = [0.0, -0.0, 1.0, 1e-310, 3.4e38, 65504.0, 7e4, np.inf, -np.inf, np.nan]
    values += list(rng.standard_normal(40) * 10.0 ** rng.integers(-6, 7, 40))
    tried = 0
    for dtype in ("float16", "bfloat16", "float32", "float64"):
        eps = dtypes.eps(dtype)
        for e in values:
            for a in (e, e * (1 + 3 * eps), e * (1 + 5 * eps), e + 1e-3, np.nan, np.inf, -e):
                for acc, scale in ((None, 0.0), (Accumulation(count=64, magnitude=abs(e) if np.isfinite(e) else 0.0), 2.0)):
                    scalar = compare(np.array(a), np.array(e), dtype, acc=acc, scale=scale)
                    array = compare(np.array([a]), np.array([e]), dtype, acc=acc, scale=scale)
                    assert (scalar.verdict, scalar.mismatched, scalar.total) == (array.verdict, array.mismatched, array.total)
                    assert scalar.mask.shape == () and bool(scalar.mask) == bool(array.mask[0])
                    assert str(scalar.metrics()) == str(array.metrics())
                    tried += 1
    assert tried == 4 * len(values) * 7 * 2
