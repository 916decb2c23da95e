from pathlib import Path

import numpy as np

from harness import dtypes, generate
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
SMOOTH = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")
CE = load_spec(ROOT / "specs" / "losses" / "cross_entropy.yaml")


def _prints(cases):
    return [c.fingerprint() for c in cases]


def test_same_seed_same_cases_and_another_seed_others():
    a = generate.draw(generate.all_cases(SMOOTH), 60, seed=7)
    b = generate.draw(generate.all_cases(SMOOTH), 60, seed=7)
    c = generate.draw(generate.all_cases(SMOOTH), 60, seed=8)
    assert _prints(a) == _prints(b)
    assert _prints(a) != _prints(c)


def test_cases_cover_dtypes_shapes_specials_and_ties():
    cases = generate.draw(generate.valid_cases(SMOOTH), 300, seed=1)
    seen = {dtypes.name(c.arrays["input"]) for c in cases}
    assert seen == {"float16", "bfloat16", "float32", "float64"}
    shapes = {c.arrays["input"].ndim for c in cases}
    assert 0 in shapes and max(shapes) >= 2
    assert any(c.arrays["input"].size == 0 for c in cases)
    assert any(c.arrays["input"].size > 1000 for c in cases), "occasional large cases"
    assert any(not np.isfinite(dtypes.to_float64(c.arrays["input"])).all() for c in cases if c.arrays["input"].size)
    ties = 0
    for c in cases:
        d = np.abs(dtypes.to_float64(c.arrays["input"]) - dtypes.to_float64(c.arrays["target"]))
        ties += int(np.any(d == c.params["beta"]))
    assert ties > 5, "elements placed exactly at the threshold |input - target| == beta"
    assert {c.params["reduction"] for c in cases} == {"none", "mean", "sum"}


def test_invalid_cases_break_one_documented_thing():
    cases = generate.draw(generate.invalid_cases(SMOOTH), 80, seed=3)
    assert all(c.origin == "invalid" and c.note for c in cases)
    assert any(c.params["reduction"] not in ("none", "mean", "sum") for c in cases)
    assert any(c.arrays["input"].shape != c.arrays["target"].shape for c in cases)
    assert any(dtypes.name(c.arrays["target"]) == "int64" for c in cases)


def test_cross_entropy_targets_are_valid_per_variant():
    cases = generate.draw(generate.valid_cases(CE), 200, seed=5)
    assert {c.variant for c in cases} == {"indices", "probabilities"}
    for c in cases:
        x, t = c.arrays["input"], c.arrays["target"]
        if c.variant == "indices":
            assert t.shape == x.shape[:1] + x.shape[2:]
            keep = t != c.params["ignore_index"]
            assert ((t[keep] >= 0) & (t[keep] < x.shape[1])).all()
        else:
            assert t.shape == x.shape
            if t.size:
                np.testing.assert_allclose(dtypes.to_float64(t).sum(axis=1), 1.0, rtol=0.02)
    assert any(c.arrays["weight"] is not None for c in cases) and any(c.arrays["weight"] is None for c in cases)
    assert any(c.arrays["input"].ndim > 2 for c in cases), "K-dimensional inputs"


def test_special_values_stay_inside_the_value_kind_domain():
    """Edge values probe nan propagation, but a `positive` variance is never <= 0 and a `unit`
    probability never leaves [0, 1] (so gradients and domains stay meaningful)."""
    spec = load_spec(ROOT / "specs" / "losses" / "gaussian_nll_loss.yaml")  # var: positive
    bce = load_spec(ROOT / "specs" / "losses" / "bce_loss.yaml")  # input, target: unit
    var = [dtypes.to_float64(c.arrays["var"]) for c in generate.draw(generate.valid_cases(spec), 300, seed=3)]
    probs = [dtypes.to_float64(c.arrays[k]) for c in generate.draw(generate.valid_cases(bce), 300, seed=3)
             for k in ("input", "target")]
    for arrays, inside in ((var, lambda v: v > 0), (probs, lambda v: (v >= 0) & (v <= 1))):
        flat = np.concatenate([a.ravel() for a in arrays])
        assert np.isnan(flat).any(), "nan is still drawn, to probe propagation"
        assert inside(flat[~np.isnan(flat)]).all()
    assert np.isinf(np.concatenate([a.ravel() for a in var])).any(), "a positive kind still reaches +inf"
