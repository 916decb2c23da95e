"""Finding classes and diagnoses on hand-made outcomes: each hypothesis must hold on the values that show it
and fail on values that do not (no framework involved)."""
from pathlib import Path

import numpy as np
import pytest

from harness.cases.case import Case, Outcome, describe_array
from harness.judge.classes import CLASSES, classify, parse_selection, severity
from harness.judge.diagnose import diagnose
from harness.judge.findings import Finding
from harness.judge.peers import Peer, Result, decide
from harness.judge.reference import evaluate
from harness.judge.verdicts import Verdict
from harness.report.results import finding_json
from harness.run.pipeline import judge
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
SMOOTH = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")
NLL = load_spec(ROOT / "specs" / "losses" / "nll_loss.yaml")
RNG = np.random.default_rng(7)


def _smooth_case(n=6, dtype="float64", beta=4.203, reduction="none"):
    x = RNG.uniform(-9, 9, n).astype(dtype)
    y = RNG.uniform(-9, 9, n).astype(dtype)
    return Case("smooth_l1_loss", {"input": x, "target": y}, {"reduction": reduction, "beta": beta})


def _verdict(spec, target, case, value, dtype="float64"):
    """The judgement of `value` as the binding's output, through the pipeline's own judge."""
    b = spec.binding(target)
    own = evaluate(b.formula, case) if b.formula else None
    out = Outcome(value=np.asarray(value, dtype), dtype=dtype)
    [v] = judge(b, case, out, evaluate(spec.formula, case), own)
    return v


def _classed(v):
    d = diagnose(v)
    return classify(v.verdict, v.check, v.silent, d.implies), d


def test_parameter_stored_as_float32_is_precision_and_names_the_parameter():
    case = _smooth_case()
    b = SMOOTH.binding("paddle.nn.SmoothL1Loss")
    got = evaluate(b.formula, case, {"beta": float(np.float32(4.203))}).value  # its own formula, delta in float32
    v = _verdict(SMOOTH, "paddle.nn.SmoothL1Loss", case, got)
    assert v.verdict == "value" and not v.documented
    klass, d = _classed(v)
    assert klass == "precision" and d.rule == "param-float32:beta"
    assert "delta stored as float32" in d.text and "equals the reference × delta" in d.text
    entry = finding_json(SMOOTH, Finding("f", [v], {}, v))
    assert entry["class"] == "precision" and entry["message"] == d.text  # no longer an empty message


def test_a_wrong_parameter_is_not_precision():
    case = _smooth_case()
    got = evaluate(SMOOTH.binding("paddle.nn.SmoothL1Loss").formula, case, {"beta": 4.203 * 1.01}).value
    klass, d = _classed(_verdict(SMOOTH, "paddle.nn.SmoothL1Loss", case, got))
    assert klass == "wrong-value" and not d.rule.startswith("param-float32") and d.text


def test_computed_in_float32_is_found_on_float64_inputs_only_when_it_holds():
    case = _smooth_case(beta=1.0)
    narrow = case.with_(arrays={k: a.astype(np.float32) for k, a in case.arrays.items()})
    in32 = evaluate(SMOOTH.formula, narrow).lowp  # the formula evaluated in float32
    klass, d = _classed(_verdict(SMOOTH, "torch.nn.SmoothL1Loss", case, in32))
    assert (klass, d.rule) == ("precision", "float32") and d.text.startswith("computed in float32")
    noisy = np.asarray(in32) * (1 + 1e-4)  # far beyond float32 rounding
    klass, d = _classed(_verdict(SMOOTH, "torch.nn.SmoothL1Loss", case, noisy))
    assert klass == "wrong-value" and d.rule != "float32"


def test_a_constant_ratio_names_the_parameter_it_equals():
    case = _smooth_case(beta=2.5)
    ref = evaluate(SMOOTH.formula, case).value
    _klass, d = _classed(_verdict(SMOOTH, "torch.nn.SmoothL1Loss", case, ref * 2.5))
    assert d.rule == "ratio:beta" and "× beta" in d.text
    _klass, d = _classed(_verdict(SMOOTH, "torch.nn.SmoothL1Loss", case, ref * 3.7))
    assert d.rule == "ratio" and "3.7" in d.text  # constant, but no parameter has that value


def test_clamped_value_where_the_reference_is_infinite():
    case = Case("smooth_l1_loss", {"input": np.array([np.inf, 1.0, 2.0]), "target": np.array([0.0, 1.0, 0.5])},
                {"reduction": "none", "beta": 1.0})
    ref = evaluate(SMOOTH.formula, case).value
    v = _verdict(SMOOTH, "torch.nn.SmoothL1Loss", case, np.where(np.isinf(ref), 100.0, ref))
    _klass, d = _classed(v)
    assert d.rule == "clamp:100" and "clamped at 100" in d.text


def test_divides_by_n_including_ignored_rows():
    x = np.log(RNG.dirichlet(np.ones(3), 6))
    target = np.array([0, -100, 2, 1, -100, 2])
    case = Case("nll_loss", {"input": x, "target": target, "weight": None}, {"ignore_index": -100, "reduction": "mean"})
    ref = float(evaluate(NLL.formula, case).value)
    klass, d = _classed(_verdict(NLL, "torch.nn.NLLLoss", case, ref * 4 / 6))
    assert (klass, d.rule) == ("wrong-value", "divides-including-ignored") and "including ignored rows" in d.text


def test_measured_values_are_said_plainly_when_no_hypothesis_holds():
    case = _smooth_case(beta=1.0)
    ref = evaluate(SMOOTH.formula, case).value.copy()
    ref[0] += 0.5
    ref[1] = np.nan
    _klass, d = _classed(_verdict(SMOOTH, "torch.nn.SmoothL1Loss", case, ref))
    assert d.rule == "measured:finite+nan"
    assert "max abs error 0.5" in d.text and "nan where the reference is finite at 1 of 6" in d.text


def _empty_case(reduction="sum"):
    return Case("smooth_l1_loss", {"input": np.zeros((2, 0)), "target": np.zeros((2, 0))},
                {"reduction": reduction, "beta": 1.0})


def test_values_on_empty_input_that_nothing_computes_are_memory():
    v = _verdict(SMOOTH, "torch.nn.SmoothL1Loss", _empty_case(), 0.937)
    klass, d = _classed(v)
    assert (klass, d.rule) == ("crash-memory", "empty-memory") and "0.937" in d.text
    v = _verdict(SMOOTH, "torch.nn.SmoothL1Loss", _empty_case("mean"), 0.0)  # 0 where the mean is nan: computed
    klass, d = _classed(v)
    assert klass == "convention" and d.rule == "empty-input"  # the mean of nothing: no doc says; peers decide
    v = _verdict(SMOOTH, "torch.nn.SmoothL1Loss", _empty_case(), float("nan"))  # a sum of nothing is 0: nan-filled
    assert _classed(v)[0] == "crash-memory"
    v = _verdict(SMOOTH, "torch.nn.SmoothL1Loss", _empty_case("mean"), float("inf"))  # inf needs a nonzero sum
    klass, d = _classed(v)
    assert (klass, d.rule) == ("crash-memory", "empty-memory") and "inf" in d.text


def test_nondeterministic_on_empty_input_is_memory_elsewhere_nondeterministic():
    b = SMOOTH.binding("mindspore.nn.SmoothL1Loss")
    runs = {"first run": {"value": describe_array(np.float32(0.23))}}
    again = {"same worker": {"value": describe_array(np.float32(9e-41))}}
    v = Verdict(b, _empty_case(), "values", "nondeterministic", "nondeterministic", "nondeterministic",
                expected=runs, actual=again)
    klass, d = _classed(v)
    assert klass == "crash-memory" and d.text.startswith("varies between runs on empty input")
    v.case = _smooth_case()
    assert _classed(v)[0] == "nondeterministic"


def test_peers_name_who_computes_and_silent_discrepancies_are_conventions():
    b = SMOOTH.binding("paddle.nn.SmoothL1Loss")
    err = {"error": "ValueError", "message": "bad input\nmore"}
    one = Result.of_array(np.array([1.0]), "float64")
    _, peers = decide(Result("error", error="ValueError"), [Peer("torch", "torch.f", one), Peer("mindspore", "ms.f", one),
                                                           Peer("tensorflow", "tf.f", None)])  # the entries the report keeps
    v = Verdict(b, _smooth_case(1), "values", "unexpected-error", "unexpected-error", "unexpected-error", actual=err,
                peers=peers)
    klass, d = _classed(v)
    assert klass == "error" and "raises ValueError where mindspore and torch compute" in d.text  # no answer: not named
    case = _smooth_case(2, beta=1.0)
    ref = evaluate(SMOOTH.formula, case).value
    v = _verdict(SMOOTH, "torch.nn.SmoothL1Loss", case, [np.nan, ref[1]])
    both = [Peer(n, f"{n}.f", Result.of_array(ref, "float64")) for n in ("paddle", "mindspore")]
    v.peers = decide(Result.of_array(np.array([np.nan, ref[1]]), "float64"), both, "non-finite input")[1]
    v.silent = "non-finite input"
    klass, d = _classed(v)
    assert klass == "convention" and "nan where mindspore and paddle give a number" in d.text


@pytest.mark.parametrize(("verdict", "check", "silent", "implied", "expected"), [
    ("crash", "values", "", None, "crash-memory"),
    ("timeout", "raises", "", None, "crash-memory"),
    ("value", "defaults", "", "crash-memory", "crash-memory"),
    ("nondeterministic", "values", "", None, "nondeterministic"),
    ("value", "values", "non-finite result where the formula's is finite", None, "convention"),
    ("value", "gradients", "no doc states the gradient", None, "wrong-value"),
    ("subgradient", "gradients", "", None, "convention"),
    ("value", "defaults", "", None, "interface"),
    ("signature", "signature", "", None, "interface"),
    ("unexpected-error", "dtypes", "", None, "dtype"),
    ("missing-error", "raises", "", None, "error"),
    ("wrong-error", "raises", "", None, "error"),
    ("value", "values", "", "precision", "precision"),
    ("value", "values", "", None, "wrong-value"),
    ("shape", "values", "", None, "wrong-value"),
])
def test_every_finding_gets_one_class(verdict, check, silent, implied, expected):
    assert classify(verdict, check, silent, implied) == expected


def test_severity_order_and_selection():
    assert [severity(k) for k in CLASSES] == list(range(len(CLASSES)))
    assert severity("crash-memory") < severity("wrong-value") < severity("error") < severity("dtype") \
        < severity("precision") < severity("convention")
    assert parse_selection("all") == frozenset(CLASSES)
    assert parse_selection("precision, crash-memory") == {"precision", "crash-memory"}
    with pytest.raises(ValueError, match="unknown finding class"):
        parse_selection("precision,bogus")


def _gradient_verdict(target, case, grad):
    """The gradients check's verdict on `grad` as the framework's gradient of the input (float64)."""
    from harness.checks.gradients import judge_reply
    from harness.judge.gradref import derive
    from harness.run import wire

    b = SMOOTH.binding(target)
    common = derive(SMOOTH.formula, case, ["input"])
    own = derive(b.formula, case, ["input"]) if b.formula else None
    reply = {"grads": [wire.encode_array(np.asarray(grad, np.float64))]}
    [v, *_] = judge_reply(b, case, ["input"], reply, common, own)
    return v


def test_a_gradient_with_a_parameter_stored_as_float32_is_precision():
    from harness.judge.gradref import derive

    case = _smooth_case(beta=1.438)
    rounded = case.with_(params={**case.params, "beta": float(np.float32(1.438))})
    got = derive(SMOOTH.formula, rounded, ["input"]).inputs["input"].value
    v = _gradient_verdict("mindspore.ops.smooth_l1_loss", case, got)
    assert v.verdict == "value"
    klass, d = _classed(v)
    assert (klass, d.rule) == ("precision", "param-float32:beta") and "stored as float32" in d.text
    klass, d = _classed(_gradient_verdict("mindspore.ops.smooth_l1_loss", case, got * (1 + 1e-4)))
    assert klass == "wrong-value" and not d.rule.startswith("param-float32")
    klass, d = _classed(_gradient_verdict("mindspore.ops.smooth_l1_loss", case, got * (1 + 1e-6)))
    assert (klass, d.rule) == ("precision", "float32-rounding")  # float32's rounding, no single step named


def test_float32_is_no_diagnosis_when_the_float32_formula_is_further_from_the_result():
    case = _smooth_case(beta=1.0)
    case = case.with_(arrays={"input": case.arrays["input"], "target": case.arrays["input"].copy()})  # loss 0
    keeps_an_epsilon = np.full(6, 6.2e-13)  # an epsilon the formula does not have; float32 would give 0 too
    klass, d = _classed(_verdict(SMOOTH, "torch.nn.SmoothL1Loss", case, keeps_an_epsilon))
    assert d.rule not in ("float32", "float32-rounding") and (klass, d.rule) == ("precision", "input-scale")


def test_float32_explains_non_finite_elements_only_beyond_float32s_range():
    from harness.judge.diagnose import _nearer
    act = np.array([1.5, np.inf])
    # the float64 reference is 1000 there: an intermediate overflowing in float64 too (log(1 + exp(1000)))
    assert not _nearer(act, np.array([1.5, np.inf]), np.array([1.5, 1000.0]))
    # the reference itself is beyond float32: only a float32 step gives inf
    assert _nearer(act, np.array([1.5, np.inf]), np.array([1.5, 1e39]))
    # finite elements that differ decide: float32's value is nearer than the reference
    assert _nearer(np.array([1.0000001]), np.array([1.0000001]), np.array([1.0]))
    assert not _nearer(np.array([1.0000001]), np.array([1.0]), np.array([1.0]))


def test_a_tiny_error_at_the_inputs_scale_is_precision_and_a_large_one_is_not():
    case = _smooth_case(beta=1.0)
    case = case.with_(arrays={"input": case.arrays["input"], "target": case.arrays["input"].copy()})  # loss 0
    scale = float(np.abs(case.arrays["input"]).max())
    klass, d = _classed(_verdict(SMOOTH, "torch.nn.SmoothL1Loss", case, np.full(6, 1e-12 * scale)))
    assert (klass, d.rule) == ("precision", "input-scale") and "of magnitude" in d.text
    klass, d = _classed(_verdict(SMOOTH, "torch.nn.SmoothL1Loss", case, np.full(6, 1e-6 * scale)))
    assert klass == "wrong-value" and d.rule != "input-scale"


def test_a_result_that_follows_the_common_formula_not_its_own_docs_says_so_and_no_rounding_is_tried():
    case = _smooth_case()
    got = evaluate(SMOOTH.formula, case).value  # torch's SmoothL1 form, where paddle's docs give the Huber form
    v = _verdict(SMOOTH, "paddle.nn.SmoothL1Loss", case, got)
    assert (v.peer, v.doc) == ("match", "value")
    klass, d = _classed(v)
    assert d.rule == "common-formula" and "its own docs state" in d.text and klass == "wrong-value"
