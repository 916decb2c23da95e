"""Other forms of a call (harness/run/forms.py) built from the real specs: where a positional port from torch puts
each argument, what a naive port leaves out; and the pair verdicts (harness/judge/pairs.py). No framework runs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.cases.case import Case, Outcome
from harness.judge import pairs
from harness.run import forms
from harness.run.pipeline import build_request
from harness.spec.model import load_spec, positional_params

ROOT = Path(__file__).resolve().parent.parent
CE = load_spec(ROOT / "specs" / "losses" / "cross_entropy.yaml")
SMOOTH = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")


def _ce(**params: object) -> Case:
    x = np.zeros((2, 3), "float32")
    base = {"ignore_index": -100, "reduction": "mean", "label_smoothing": 0.0}
    return Case("cross_entropy", {"input": x, "target": np.array([0, 1]), "weight": None}, {**base, **params},
                variant="indices")


def test_positional_params_stop_at_the_star() -> None:
    assert [p[0] for p in positional_params("(*, full=False, eps=1e-06)")] == []
    assert [p[0] for p in positional_params("(input, target, *, beta=1.0)")] == ["input", "target"]


def test_a_torch_user_writes_positions_up_to_the_last_non_default_and_not_past_torchs_own_parameters() -> None:
    torch_fn = CE.binding("torch.nn.functional.cross_entropy")
    # torch's fourth position is size_average, which a user would not write to reach ignore_index: keywords from there
    assert [s.common for s in forms.used(torch_fn, torch_fn, _ce(ignore_index=1))] == ["input", "target"]
    weighted = _ce()
    weighted.arrays["weight"] = np.ones(3, "float32")
    assert [s.common for s in forms.used(torch_fn, torch_fn, weighted)] == ["input", "target", "weight"]


def test_a_port_from_torch_that_writes_smooth_l1s_beta_by_position_reaches_another_parameter() -> None:
    # torch: (input, target, size_average, reduce, reduction, beta): beta is never written by position (after
    # size_average); MindSpore's function takes (input, target, beta, reduction): no written position differs
    ms_fn = SMOOTH.binding("mindspore.ops.smooth_l1_loss")
    case = Case("smooth_l1_loss", {"input": np.zeros(2, "float32"), "target": np.zeros(2, "float32")},
                {"beta": 0.5, "reduction": "sum"})
    source = forms.origin(ms_fn)
    assert source is not None and source.target == "torch.nn.functional.smooth_l1_loss"
    assert forms.mismatch(ms_fn, source, case) == ""
    request = forms.positional_request(source, build_request)(ms_fn, case, 1)
    assert request is not None and len(request["args"]) == 2 and request["kwargs"] == {"beta": 0.5, "reduction": "sum"}


def test_a_class_gets_its_constructor_arguments_by_position() -> None:
    paddle_cls = CE.binding("paddle.nn.CrossEntropyLoss")
    source = forms.origin(paddle_cls)
    assert source is not None and source.target == "torch.nn.CrossEntropyLoss"
    weighted = _ce()
    weighted.arrays["weight"] = np.ones(3, "float32")
    request = forms.positional_request(source, build_request)(paddle_cls, weighted, 1)
    assert request is not None and len(request["init_args"]) == 1  # the weight, torch's first constructor position
    assert "weight" not in request["init"] and request["init"]["axis"] == 1  # the spec's other arguments stay keywords


def test_a_naive_port_leaves_out_what_torchs_call_does_not_write() -> None:
    paddle_fn = CE.binding("paddle.nn.functional.cross_entropy")
    probabilities = Case("cross_entropy", {"input": np.zeros((2, 3), "float32"), "target": np.full((2, 3), 1 / 3, "float32"),
                                           "weight": None},
                         {"ignore_index": -100, "reduction": "mean", "label_smoothing": 0.0}, variant="probabilities")
    assert forms.dropped(paddle_fn, probabilities) == {"axis": (1, -1), "soft_label": (True, False)}
    assert forms.dropped(paddle_fn, _ce()) == {"axis": (1, -1)}  # soft_label=False is its default
    assert forms.dropped(CE.binding("torch.nn.functional.cross_entropy"), probabilities) == {}
    naive = forms.naive_request(build_request)(paddle_fn, probabilities, 1)
    assert naive is not None and "axis" not in naive["kwargs"] and "soft_label" not in naive["kwargs"]


def _value(x: float) -> Outcome:
    return Outcome(value=np.asarray(x, "float32"), dtype="float32")


def _error(kind: str) -> Outcome:
    return Outcome(error={"type": kind, "message": ""})


def test_pair_verdicts_say_which_form_raised() -> None:
    assert pairs.verdict(_value(1), _value(1), True, False) == "match"
    assert pairs.verdict(_value(1), _error("TypeError"), False, False) == "unexpected-error"
    assert pairs.verdict(_error("TypeError"), _value(1), False, False) == "missing-error"
    assert pairs.verdict(_error("TypeError"), _error("ValueError"), False, False) == "wrong-error"
    assert pairs.verdict(_value(1), _value(2), False, True) == "nondeterministic"


def test_a_pair_is_believed_only_when_it_differs_again() -> None:
    flips = iter([_value(1), _value(1)])
    outs: list[tuple[Outcome | None, Outcome | None]] = [(_value(1), _value(2)), (_value(3), _value(3))]
    again = pairs.repeat(lambda todo: [_value(1) for _ in todo], lambda todo: [next(flips) for _ in todo], outs)
    assert list(again) == [0] and again[0][2]  # the second form gave 1 when repeated: it varies


def test_the_growth_threshold_is_pairwise_summations_worst_case() -> None:
    from harness.checks.precision_growth import bound

    assert bound("float32", 2 ** 20) == np.finfo(np.float32).eps * 20
    assert bound("float64", 1) == np.finfo(np.float64).eps  # never below one rounding


def test_a_relative_error_is_measured_against_the_float64_reference() -> None:
    from harness.checks.precision_growth import relative_error

    spec = load_spec(ROOT / "specs" / "losses" / "l1_loss.yaml")
    x = np.arange(4, dtype="float32")
    case = Case("l1_loss", {"input": x, "target": np.zeros(4, "float32")}, {"reduction": "mean"})
    got = relative_error(case, Outcome(value=np.asarray(1.5 * 1.001, "float32"), dtype="float32"), spec.formula)
    assert got is not None and abs(got - (float(np.float32(1.5 * 1.001)) - 1.5) / 1.5) < 1e-15
    assert relative_error(case, Outcome(error={"type": "E"}), spec.formula) is None
