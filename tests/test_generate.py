import functools
from pathlib import Path

import numpy as np

from harness.cases import generate
from harness.spec import dtypes
from harness.spec.model import load_spec

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


_KINDS_SPEC = """
api: value_kinds
title: every label value kind
dims:
  N: {min: 0, max: 4}
  C: {min: 2, max: 5}
  T: {min: 1, max: 6}
  S: {min: 0, max: 3}
inputs:
  x: {dtypes: [float32], shape: [N, C]}
  signs: {dtypes: [float32, int64], shape: [N], values: sign}
  bits: {dtypes: [float32], shape: [N, C], values: binary}
  padded: {dtypes: [int64], shape: [N, C], values: padded_index, classes: C}
  logp: {dtypes: [float64], shape: [T, N, C], values: log_probabilities, axis: 2}
  labels: {dtypes: [int64], shape: [N, S], values: index, classes: C, exclude: blank}
  label_lengths: {dtypes: [int64], shape: [N], values: lengths, bound: S}
  input_lengths: {dtypes: [int64], shape: [N], values: lengths, bound: T, above: label_lengths}
params:
  blank: {type: int, default: 0, min: 0, max: 1}
formula: |
  result = x
frameworks:
  torch:
    bindings:
      - {target: torch.nn.functional.l1_loss, kind: function, signature: "(input, target)"}
"""


@functools.cache
def _kinds_cases(n=200):
    spec = load_spec(Path("value_kinds.yaml"), _KINDS_SPEC)
    return generate.draw(generate.valid_cases(spec), n, seed=11)


def test_sign_and_binary_labels_hold_only_their_two_values_in_the_declared_dtype():
    cases = _kinds_cases()
    signs = [c.arrays["signs"] for c in cases if c.arrays["signs"].size]
    assert {dtypes.name(s) for s in signs} == {"float32", "int64"}
    assert set(np.concatenate([s.astype(np.float64) for s in signs]).tolist()) == {-1.0, 1.0}
    bits = np.concatenate([c.arrays["bits"].ravel() for c in cases])
    assert set(bits.tolist()) == {0.0, 1.0}


def test_padded_index_rows_are_a_valid_block_then_minus_one_then_anything():
    seen_full = seen_empty = seen_tail = False
    for c in _kinds_cases():
        classes = c.arrays["x"].shape[1]
        for row in c.arrays["padded"]:
            stop = int(np.argmax(row == -1)) if (row == -1).any() else len(row)
            assert ((row[:stop] >= 0) & (row[:stop] < classes)).all()
            assert (row[stop + 1:] >= -1).all() and (row < classes).all()
            seen_full |= stop == len(row)
            seen_empty |= stop == 0
            seen_tail |= bool((row[stop + 1:] >= 0).any())
    assert seen_full and seen_empty and seen_tail


def test_log_probabilities_normalize_along_their_axis():
    for c in _kinds_cases():
        lp = c.arrays["logp"]
        if lp.size and np.isfinite(lp).all():
            np.testing.assert_allclose(np.exp(lp).sum(axis=2), 1.0, rtol=1e-12)
            assert (lp <= 0).all()


def test_index_exclude_keeps_a_parameter_value_out_of_the_labels():
    cases = _kinds_cases()
    assert {c.params["blank"] for c in cases} == {0, 1}
    for c in cases:
        assert (c.arrays["labels"] != c.params["blank"]).all()
        assert ((c.arrays["labels"] >= 0) & (c.arrays["labels"] < c.arrays["x"].shape[1])).all()


def test_lengths_stay_within_their_bound_and_mostly_above_the_named_input():
    above = below = 0
    for c in _kinds_cases():
        t, s = c.arrays["logp"].shape[0], c.arrays["labels"].shape[1]
        li, ll = c.arrays["input_lengths"], c.arrays["label_lengths"]
        assert ((ll >= 0) & (ll <= s)).all() and ((li >= 0) & (li <= t)).all()
        if li.size:
            ok = (li >= np.minimum(ll, t)).all()
            above, below = above + ok, below + (not ok)
    assert above > 3 * below and below > 0, "lower bounds hold usually, and not always (reaching infeasible cases)"


def test_value_kind_references_are_checked_on_load():
    import pytest

    from harness.spec.source import SourceError

    bad = _KINDS_SPEC.replace("bound: T, above", "bound: Q, above")
    with pytest.raises(SourceError, match="bound of 'input_lengths' names 'Q'"):
        load_spec(Path("value_kinds.yaml"), bad)
    with pytest.raises(SourceError, match="no `bound`"):
        load_spec(Path("value_kinds.yaml"), _KINDS_SPEC.replace("values: lengths, bound: S", "values: lengths"))
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


def test_a_shape_probes_valid_form_puts_the_shape_back_and_no_other_case_has_one():
    from harness.cases.generate import valid_form
    spec = load_spec(ROOT / "specs" / "losses" / "cosine_embedding_loss.yaml")
    probes = [c for c in generate.draw(generate.all_cases(spec), 200, 3) if c.origin == "invalid"]
    shaped = [c for c in probes if " shape " in c.note or "extra dim" in c.note]
    assert shaped
    for c in shaped:
        name = c.note.split(" ")[0]
        back = valid_form(c)
        assert back is not None and back.origin == "generated"
        assert back.arrays[name].shape != c.arrays[name].shape
        assert back.arrays["input1"].shape == back.arrays["input2"].shape  # what the probe broke, restored
    assert all(valid_form(c) is None for c in probes if c not in shaped)
