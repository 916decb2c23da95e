"""How a peer is asked (harness/run/pipeline.py `within`, `_same_formula`): in a dtype its docs list, and not at
all on a value where its docs give another formula. Real specs, no framework call."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.cases.case import Case
from harness.run.pipeline import _same_formula, within
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
HUBER = load_spec(ROOT / "specs" / "losses" / "huber_loss.yaml")
SMOOTH = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")


def _case(dtype: str, x=(1.0, float("nan")), y=(0.5, 2.0)) -> Case:
    return Case("huber_loss", {"input": np.array(x, dtype), "target": np.array(y, dtype)},
                {"reduction": "none", "delta": 1.0})


def test_a_peer_is_asked_in_a_float_dtype_its_docs_list() -> None:
    ms = HUBER.binding("mindspore.nn.HuberLoss")  # its docs list float16 and float32, not float64
    asked = within(ms, _case("float64"), "values")
    assert asked is not None and {str(a.dtype) for a in asked.arrays.values()} == {"float32"}
    assert np.isnan(asked.arrays["input"][1])  # the question (a nan's convention) is kept
    assert within(ms, _case("float32"), "values") is not None
    assert within(HUBER.binding("mindspore.ops.huber_loss"), _case("float64"), "values").arrays["input"].dtype == np.float64


def test_a_value_that_would_overflow_the_peers_dtype_is_not_asked() -> None:
    ms = HUBER.binding("mindspore.nn.HuberLoss")
    assert within(ms, _case("float64", x=(1e300, 1.0)), "values") is None


def test_a_peer_documenting_another_formula_is_no_peer_on_values() -> None:
    paddle, torch = SMOOTH.binding("paddle.nn.SmoothL1Loss"), SMOOTH.binding("torch.nn.SmoothL1Loss")
    assert not _same_formula(paddle, torch)
    assert _same_formula(torch, SMOOTH.binding("mindspore.nn.SmoothL1Loss"))
    assert _same_formula(paddle, SMOOTH.binding("paddle.nn.functional.smooth_l1_loss"))


def test_what_one_binding_of_a_framework_cannot_answer_is_asked_of_the_next() -> None:
    from harness.judge.peers import Result
    from harness.judge.verdicts import Verdict
    from harness.run.pipeline import TargetRunner

    first, second = HUBER.binding("mindspore.ops.huber_loss"), HUBER.binding("mindspore.nn.HuberLoss")
    asked: list[tuple[str, int]] = []

    class _Run:  # a stand-in for SpecRun.ask: the first binding answers only the first call
        def ask(self, peer, items, pool, check, cast=True, lane=""):
            asked.append((peer.target, len(items)))
            if peer is first:
                return [Result("error", error="ValueError")] + [None] * (len(items) - 1)
            return [Result("error", error="TypeError")] * len(items)

    runner = object.__new__(TargetRunner)
    runner.spec_run, runner.pool, runner.lane = _Run(), None, ""  # type: ignore[assignment]
    v = Verdict(HUBER.binding("torch.nn.HuberLoss"), _case("float32"), "values", "value", "value", "value")
    got = runner._ask([first, second], [(v, {}), (v, {})], "values")
    assert [(b.target, r.error if r else None) for b, r in got] == [
        ("mindspore.ops.huber_loss", "ValueError"), ("mindspore.nn.HuberLoss", "TypeError")]
    assert asked == [("mindspore.ops.huber_loss", 2), ("mindspore.nn.HuberLoss", 1)]
