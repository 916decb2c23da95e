"""The gradients check's judging and case selection, on synthetic framework replies (no framework)."""
import numpy as np
import pytest

from harness.cases.case import Case
from harness.checks import gradients
from harness.run import wire
from harness.run.pipeline import Config, SpecRun
from harness.spec.model import load_spec
from harness.spec.source import SourceError

SPEC = """
api: tiny_l1
title: tiny L1
dims: {S: {rank: [1, 1], min: 1, max: 3}}
inputs:
  input: {dtypes: [float32, float64], shape: [S...]}
  target: {dtypes: like input, shape: like input, ties: ["input"]}
  labels: {dtypes: [int64], shape: like input, values: index}
params:
  reduction: {type: str, enum: [none, mean, sum], default: mean}
formula: |
  result = reduce(abs(input - target), reduction)
gradients:
  subgradients: [{side: min_norm, source: "https://example.org/common"}]
frameworks:
  torch:
    subgradients: [{side: min_norm, at: "input == target", source: "https://example.org/torch"}]
    bindings:
      - {target: torch.a, kind: function, signature: "(input, target, labels)"}
      - {target: torch.b, kind: function, signature: "(input, target, labels)", subgradients: [{side: right}], grad: [input]}
  paddle:
    bindings:
      - {target: paddle.c, kind: function, signature: "(input, target, labels)"}
"""


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    path.write_text(SPEC)
    return load_spec(path)


def case(x, t, reduction="sum"):
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    return Case("tiny_l1", {"input": x, "target": t, "labels": np.zeros(x.shape, np.int64)}, {"reduction": reduction})


def reply(*grads):
    return {"grads": [None if g is None else wire.encode_array(np.asarray(g, np.float64)) for g in grads]}


def judged(spec, target, c, *grads):
    check = gradients.GradientCheck(spec, [c])
    b = spec.binding(target)
    names = gradients.differentiable(spec, c, b)
    return check.verdicts(b, [c], lambda pairs: [reply(*grads[:len(names)]) for _ in pairs])


def test_differentiable_inputs_follow_the_spec_and_the_binding(spec):
    c = case([1.0], [2.0])
    assert gradients.differentiable(spec, c) == ["input", "target"], "an index input is a label, not differentiable"
    assert gradients.differentiable(spec, c, spec.binding("torch.b")) == ["input"]


def test_right_gradient_matches_and_wrong_one_is_a_value_finding(spec):
    c = case([1.0, 3.0], [2.0, 0.0])
    ok = judged(spec, "torch.a", c, [-1.0, 1.0], [1.0, -1.0])
    assert [v.verdict for v in ok] == ["match", "match"]
    bad = judged(spec, "torch.a", c, [-1.0, 0.5], [1.0, -1.0])
    assert bad[0].verdict == "value" and bad[0].metrics["wrt"] == "input" and bad[0].metrics["differs_at"] == [[1]]
    none = judged(spec, "torch.a", c, None, [1.0, -1.0])
    assert none[0].verdict == "value" and "no gradient" in none[0].message


def test_rounding_of_a_float32_gradient_is_no_finding(spec):
    x = np.array([0.1, 0.7, 0.3], np.float32)
    c = Case("tiny_l1", {"input": x, "target": np.zeros(3, np.float32), "labels": np.zeros(3, np.int64)}, {"reduction": "mean"})
    g = np.float32(1) / np.float32(3)
    vs = judged(spec, "torch.a", c, np.full(3, g, np.float32), np.full(3, -g, np.float32))
    assert all(v.verdict == "match" for v in vs)


def test_kinks_are_judged_against_the_stated_subgradient(spec):
    c = case([1.0, 2.0], [1.0, 0.0])  # a kink at element 0
    documented = judged(spec, "torch.a", c, [0.0, 1.0], [0.0, -1.0])
    kinks = [v for v in documented if "kink" in v.message]
    assert [v.verdict for v in kinks] == ["match", "match"], "torch documents the least-magnitude subgradient"
    other = judged(spec, "torch.b", c, [1.0, 1.0])  # documents nothing with a source; gives the right derivative
    kink = [v for v in other if "kink" in v.message][0]
    assert kink.peer == "value", "the common choice (0) is not what it gives"
    silent = judged(spec, "paddle.c", c, [0.0, 1.0], [0.0, -1.0])
    kink = [v for v in silent if "kink" in v.message][0]
    assert kink.verdict == "match", "the common choice, and no doc of its own says otherwise: nothing to claim"
    assert judged(spec, "paddle.c", c, [0.0, 1.0], [0.0, -1.0])[1].verdict == "match"


def test_nan_must_propagate_like_the_reference(spec):
    c = case([np.nan, 1.0], [0.0, 0.0])
    assert [v.verdict for v in judged(spec, "torch.a", c, [np.nan, 1.0], [np.nan, -1.0])] == ["match", "match"]
    assert judged(spec, "torch.a", c, [0.0, 1.0], [np.nan, -1.0])[0].verdict == "value"


def test_a_framework_error_is_an_unexpected_error_verdict(spec):
    c = case([1.0], [0.0])
    check = gradients.GradientCheck(spec, [c])
    out = check.verdicts(spec.binding("torch.a"), [c], lambda pairs: [{"error": {"type": "RuntimeError", "message": "no grad"}}])
    assert [(v.check, v.verdict) for v in out] == [("gradients", "unexpected-error")]


def test_gradient_cases_are_small_valid_and_include_nonfinite_ones(spec):
    run = SpecRun(spec, Config(max_examples=80))
    cases = run.gradients.cases
    assert 0 < len(cases) <= gradients.GRAD_CASES
    assert all(c.origin == "generated" and c.arrays["input"].size <= gradients.GRAD_ELEMENTS for c in cases)
    finite = [case([float(i)], [0.0]) for i in range(40)]
    special = [case([np.nan], [0.0]), case([1.0], [np.inf])]
    chosen = gradients._select(finite + special)
    assert len(chosen) == gradients.GRAD_CASES and special[0] in chosen and special[1] in chosen, \
        "cases with nan/inf are kept even when drawn late: propagation is always checked"


def test_a_spec_without_differentiable_inputs_says_why(tmp_path):
    text = SPEC.replace("dtypes: [float32, float64], shape: [S...]}", "dtypes: [int64], shape: [S...]}")
    path = tmp_path / "ints.yaml"
    path.write_text(text.replace("target: {dtypes: like input", "target: {dtypes: [int64]"))
    s = load_spec(path)
    assert "no differentiable input" in gradients.why_none(s)
    path.write_text(SPEC.replace("gradients:\n", "gradients:\n  skip: integer-only op\n"))
    assert "integer-only op" in gradients.why_none(load_spec(path))


def test_a_spec_that_skips_gradients_does_not_differentiate_its_replayed_regression_cases(tmp_path, spec):
    """A replayed case of an accepted finding is eligible where the spec checks gradients, never where it skips them
    (else the next run finds gradient findings the accepted run did not check, and the gate fails at rest)."""
    replayed = case([1.0, 2.0], [0.5, 2.5]).with_(origin="regression:abc", regression="abc")
    assert gradients.GradientCheck(spec, []).eligible(replayed)
    path = tmp_path / "skips.yaml"
    path.write_text(SPEC.replace("gradients:\n", "gradients:\n  skip: no gradients here\n"))
    assert not gradients.GradientCheck(load_spec(path), []).eligible(replayed)


def test_bad_gradient_settings_name_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.replace("grad: [input]", "grad: [bogus]"))
    with pytest.raises(SourceError, match="grad names 'bogus'"):
        load_spec(path)
    path.write_text(SPEC.replace("side: right", "side: sideways"))
    with pytest.raises(SourceError, match=r"bad.yaml:\d+"):
        load_spec(path)


def test_which_core_cases_get_a_gradient_check_does_not_depend_on_the_explored_ones():
    """The gate decides on core cases: explored cases (another seed) only fill the room the core leaves."""
    core = [case([float(i)], [0.0]) for i in range(10)] + [case([np.nan], [0.0])]
    chosen = []
    for explored_nonfinite in (0, 3, 6):
        explored = [case([np.inf], [0.0]).with_(explored=True) for _ in range(explored_nonfinite)]
        explored += [case([float(100 + i)], [0.0]).with_(explored=True) for i in range(30)]
        picked = gradients._select(core + explored)
        assert len(picked) == gradients.GRAD_CASES
        chosen.append([c.fingerprint() for c in picked if not c.explored])
    assert chosen[0] == chosen[1] == chosen[2] == [c.fingerprint() for c in core]
