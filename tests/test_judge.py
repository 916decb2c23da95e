"""Verdict logic on hand-made outcomes: no framework involved (the outcomes are what one would send)."""
from pathlib import Path

import numpy as np

from harness.cases.case import Case, Outcome
from harness.checks.signature import signature_verdict
from harness.judge.classes import classify
from harness.judge.reference import evaluate
from harness.judge.verdicts import Verdict, explained_by_dtype
from harness.run.pipeline import judge
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")


def _case(x, y, dtype="float32", **params):
    p = {"reduction": "none", "beta": 1.0, **params}
    return Case("smooth_l1_loss", {"input": np.array(x, dtype), "target": np.array(y, dtype)}, p)


def _judge(target, case, outcome):
    b = SPEC.binding(target)
    own = evaluate(b.formula, case) if b.formula else None
    return judge(b, case, outcome, evaluate(SPEC.formula, case), own)


def _ok(value, dtype="float32"):
    return Outcome(value=np.asarray(value, dtype), dtype=dtype)


def _err(kind):
    return Outcome(error={"type": kind, "mro": [kind, "Exception", "BaseException", "object"], "message": "boom"})


def test_matching_value_is_a_match():
    v = _judge("torch.nn.SmoothL1Loss", _case([1, 2, 3], [1, 2, 2]), _ok([0, 0, 0.5]))
    assert [x.verdict for x in v] == ["match"]


def test_wrong_value_is_undocumented():
    (v,) = _judge("torch.nn.SmoothL1Loss", _case([1, 2, 3], [1, 2, 2]), _ok([0, 0, 0.7]))
    assert (v.check, v.verdict, v.documented) == ("values", "value", False)
    assert v.metrics["mismatched"] == 1 and v.metrics["differs_at"] == [[2]]


def test_paddle_huber_form_is_a_documented_difference():
    case = _case([0.0], [1.0], beta=0.5)  # torch: 1 - 0.25 = 0.75; paddle (Huber): 0.5 * 1 - 0.125 = 0.375
    (v,) = _judge("paddle.nn.SmoothL1Loss", case, _ok([0.375]))
    assert (v.verdict, v.peer, v.doc, v.documented) == ("value", "value", "match", True)
    assert "paddlepaddle.org.cn" in v.source
    (w,) = _judge("paddle.nn.SmoothL1Loss", case, _ok([0.9]))
    assert w.documented is False, "a value matching neither formula is not explained by the docs"


def test_documented_error_vs_peers():
    case = _case([1.0], [2.0], beta=0.0)  # mindspore CPU docs: beta > 0, RuntimeError otherwise
    (v,) = _judge("mindspore.ops.smooth_l1_loss", case, _err("RuntimeError"))
    assert (v.check, v.verdict, v.peer, v.doc, v.documented) == ("raises", "unexpected-error", "unexpected-error", "match", True)
    (w,) = _judge("mindspore.ops.smooth_l1_loss", case, _err("TypeError"))
    assert (w.doc, w.documented) == ("wrong-error", False)
    (x,) = _judge("mindspore.ops.smooth_l1_loss", case, _ok([1.0]))
    assert (x.verdict, x.documented) == ("missing-error", False)


def test_invalid_reduction_must_raise_value_error():
    case = _case([1.0], [2.0], reduction="bogus").with_(origin="invalid")
    assert _judge("torch.nn.SmoothL1Loss", case, _err("ValueError"))[0].verdict == "match"
    assert _judge("torch.nn.SmoothL1Loss", case, _err("KeyError"))[0].verdict == "wrong-error"
    assert _judge("torch.nn.SmoothL1Loss", case, _ok([1.0]))[0].verdict == "missing-error"


def test_undocumented_dtype_rejection_is_documented_any_error_type():
    case = _case([1.0], [2.0], dtype="float16")  # paddle documents float32/float64 only
    (v,) = _judge("paddle.nn.functional.smooth_l1_loss", case, _err("RuntimeError"))
    assert (v.check, v.verdict, v.documented) == ("dtypes", "unexpected-error", True)


def test_output_dtype_is_its_own_check():
    vs = _judge("torch.nn.SmoothL1Loss", _case([1, 2, 3], [1, 2, 2]), _ok([0, 0, 0.5], "float64"))
    assert [(v.check, v.verdict) for v in vs] == [("values", "match"), ("dtypes", "dtype")]


def test_crash_and_timeout_are_verdicts():
    case = _case([1.0], [2.0])
    assert _judge("torch.nn.SmoothL1Loss", case, Outcome(crash="crash", error={"type": "WorkerDied"}))[0].verdict == "crash"
    assert _judge("torch.nn.SmoothL1Loss", case, Outcome(crash="timeout", error={"type": "Timeout"}))[0].verdict == "timeout"


def test_signature_differences_are_named():
    b = SPEC.binding("paddle.nn.SmoothL1Loss")
    actual = {"params": [["reduction", "mean", True], ["delta", 2.0, True], ["name", None, True], ["extra", 1, True]],
              "call": [["input", None, False], ["label", None, False]]}
    v = signature_verdict(b, actual)
    assert v.verdict == "signature"
    assert "present but undocumented: extra" in v.message and "default of delta" in v.message
    exact = {"params": [["reduction", "mean", True], ["delta", 1.0, True], ["name", None, True]],
             "call": [["input", None, False], ["label", None, False]]}
    assert signature_verdict(b, exact).verdict == "match"


def test_a_case_breaking_a_binding_rule_and_another_common_rule_may_raise_either():
    case = _case([1.0, 2.0], [2.0], beta=-1.0)  # torch documents RuntimeError for beta < 0; shapes differ too
    (v,) = _judge("torch.nn.SmoothL1Loss", case, _err("ValueError"))  # the common shape rule allows any error
    assert (v.check, v.verdict, v.doc) == ("raises", "match", "match")
    assert _judge("torch.nn.SmoothL1Loss", case, _err("RuntimeError"))[0].doc == "match"


def test_a_binding_rule_stays_precise_where_the_common_rule_has_the_same_condition():
    case = _case([1.0, 2.0], [2.0])  # mindspore documents ValueError for this very condition
    (v,) = _judge("mindspore.ops.smooth_l1_loss", case, _err("TypeError"))
    assert (v.doc, v.documented) == ("wrong-error", False)


def test_a_condition_is_shared_only_between_cases_it_cannot_tell_apart():
    from harness.judge.verdicts import holds_once
    from harness.spec.formula import parse, reads

    by_shape = parse("shape(input) != shape(target) or weight is None", ["input", "target", "weight"], condition=True)
    by_value = parse("any(input < 0) and ndim(input) == 1", ["input"], condition=True)
    assert reads(by_shape)[1] == {"input", "target", "weight"}
    assert reads(by_value)[1] == frozenset()  # `input` is also read element by element
    a, b = _case([1.0, 2.0], [1.0, 2.0]), _case([-1.0, 2.0], [1.0, 2.0])
    for case in (a, b):
        case.arrays["weight"] = None
        assert holds_once(by_shape, case) is True
    assert [holds_once(by_value, c) for c in (a, b)] == [False, True]
    mismatched, weighted = _case([1.0, 2.0], [1.0, 2.0, 3.0]), _case([1.0, 2.0], [1.0, 2.0])
    mismatched.arrays["weight"] = weighted.arrays["weight"] = np.ones(2, np.float32)
    assert holds_once(by_shape, mismatched) is True and holds_once(by_shape, weighted) is False


_DIFF_SPEC = """
api: tiny
title: Tiny
dims: {S: {min: 1, max: 3}}
inputs:
  input: {dtypes: [float32], shape: [S]}
params:
  reduction: {type: str, enum: [none, sum], default: none}
formula: |
  result = reduce(abs(input), reduction)
raises:
  - {when: "reduction not in ('none', 'sum')", error: ValueError, source: "https://a.example/raise", quote: "Raises ValueError."}
frameworks:
  torch:
    docs: https://a.example/torch
    known_differences:
      - {what: "refuses negative inputs", source: "https://a.example/neg", quote: "input must be >= 0.", when: "any(input < 0)",
         verdicts: [unexpected-error]}
      - {check: values, what: "rounds", source: "https://a.example/round", when: "any(input > 100)"}
    bindings:
      - {target: torch.tiny, kind: function, signature: "(input, reduction='none')"}
"""


def test_a_known_difference_without_check_explains_every_check_and_quotes_its_doc(tmp_path):
    spec = load_spec(tmp_path / "tiny.yaml", _DIFF_SPEC)
    b = spec.binding("torch.tiny")
    assert [d.check for d, _ in b.differences] == [None, "values"]
    neg = Case("tiny", {"input": np.array([-1.0], "float32")}, {"reduction": "none"})
    (v,) = judge(b, neg, _err("RuntimeError"), evaluate(spec.formula, neg), None)
    assert (v.check, v.verdict, v.documented, v.source) == ("values", "unexpected-error", True, "https://a.example/neg")
    assert v.why == 'refuses negative inputs: "input must be >= 0."'
    probe = neg.with_(origin="invalid")  # a raises probe meeting the same behaviour: another check
    (r,) = judge(b, probe, _err("RuntimeError"), evaluate(spec.formula, probe), None)
    assert (r.check, r.verdict, r.documented) == ("raises", "unexpected-error", True), "an unscoped difference explains it too"
    big = Case("tiny", {"input": np.array([200.0], "float32")}, {"reduction": "mean"}, origin="invalid")
    (s,) = judge(b, big, _ok(1.0), evaluate(spec.formula, big), None)
    assert s.check == "raises" and (s.verdict, s.documented) == ("missing-error", False), "one scoped to values stays there"
    dumped = b.differences[0][0].model_dump(exclude_defaults=True)
    assert dumped["check"] is None, "readers of the difference table index `check`"


def test_a_documented_raise_rule_quotes_its_sentence():
    case = _case([1.0], [2.0], beta=0.0)
    b = SPEC.binding("mindspore.ops.smooth_l1_loss")
    rule = next(r for r, _ in b.raises if r.when == "beta <= 0")
    (v,) = _judge("mindspore.ops.smooth_l1_loss", case, _err("RuntimeError"))
    assert v.documented and v.why.startswith("documented to raise RuntimeError when beta <= 0")
    assert (rule.quote is None) == (v.why == "documented to raise RuntimeError when beta <= 0")


def test_a_wrong_error_a_dtype_also_raises_on_valid_cases_is_that_dtypes_failure():
    """The probe's TypeError is the dtype's (found on valid cases by the values check): no second claim."""
    spec = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")
    b = spec.binding("mindspore.nn.SmoothL1Loss")
    x = np.zeros(2, dtype=np.float32)
    valid = Case("smooth_l1_loss", {"input": x, "target": x}, {"reduction": "mean", "beta": 1.0})
    probe = Case("smooth_l1_loss", {"input": x, "target": x}, {"reduction": "bogus", "beta": 1.0}, origin="invalid")
    other = Case("smooth_l1_loss", {"input": x.astype(np.float64), "target": x.astype(np.float64)},
                 {"reduction": "bogus", "beta": 1.0}, origin="invalid")
    verdicts = [Verdict(b, valid, "values", "unexpected-error", "unexpected-error", "unexpected-error", actual={"error": "TypeError"}),
                Verdict(b, probe, "raises", "wrong-error", "wrong-error", "wrong-error", actual={"error": "TypeError"}),
                Verdict(b, other, "raises", "wrong-error", "wrong-error", "wrong-error", actual={"error": "TypeError"})]
    explained_by_dtype(verdicts)
    assert [v.verdict for v in verdicts] == ["unexpected-error", "match", "wrong-error"]
    # a valid case only a seed's exploration drew explains nothing: the gate's findings must not depend on the seed
    again = [Verdict(b, valid.with_(explored=True), "values", "unexpected-error", "unexpected-error", "unexpected-error",
                     actual={"error": "TypeError"}),
             Verdict(b, probe, "raises", "unexpected-error", "unexpected-error", "unexpected-error", actual={"error": "TypeError"})]
    explained_by_dtype(again)
    assert [v.verdict for v in again] == ["unexpected-error", "unexpected-error"]


def test_refusing_a_half_precision_dtype_its_docs_do_not_list_is_for_the_peers():
    """torch lists no dtypes for SmoothL1Loss: a float16 refusal is put to the peers (class dtype), a float32 one is not."""
    spec = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")
    b = spec.binding("torch.nn.SmoothL1Loss")
    refused = Outcome(error={"type": "NotImplementedError", "message": "not implemented for 'Half'"})
    for dtype, silent in (("float16", "no doc lists the dtypes it supports"), ("float32", "")):
        x = np.ones(2, dtype=dtype)
        case = Case("smooth_l1_loss", {"input": x, "target": x}, {"reduction": "mean", "beta": 1.0})
        [v] = judge(b, case, refused, evaluate(spec.formula, case), None)
        assert (v.verdict, v.silent) == ("unexpected-error", silent)
        assert v.raw is not None if silent else v.raw is None
    assert classify("unexpected-error", "values", "no doc lists the dtypes it supports") == "dtype"
