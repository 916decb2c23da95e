"""Peer arbitration (harness/judge/peers.py): when results agree, and who is the outlier."""
from __future__ import annotations

import numpy as np

from harness.cases.case import Outcome
from harness.judge.peers import DTYPES, Peer, Result, agree, decide, summary

NAN, INF = float("nan"), float("inf")


def _v(*values: float, dtype: str = "float32") -> Result:
    return Result.of_array(np.array(values, dtype=dtype), dtype)


def test_nan_and_inf_must_sit_in_the_same_places() -> None:
    assert agree(_v(1.0, NAN, INF), _v(1.0, NAN, INF))
    assert not agree(_v(1.0, NAN), _v(1.0, 0.0))
    assert not agree(_v(INF), _v(-INF))
    assert not agree(_v(1.0, 2.0), _v(1.0, 2.0, 3.0))


def test_finite_elements_agree_within_the_coarser_dtype() -> None:
    assert agree(_v(1.0, 2.0), _v(1.0 + 1e-6, 2.0))  # float32 rounding
    assert not agree(_v(1.0, 2.0), _v(1.1, 2.0))
    assert agree(_v(1.0, dtype="float16"), _v(1.001, dtype="float64"))  # float16's eps decides
    assert not agree(_v(1.0, dtype="float64"), _v(1.0 + 1e-6, dtype="float64"))


def test_errors_agree_whatever_their_type_and_never_with_a_value() -> None:
    a, b = Result("error", error="ValueError"), Result("error", error="RuntimeError")
    assert agree(a, b)
    assert not agree(a, _v(1.0))
    assert Result.of_outcome(Outcome(crash="crash")) is None  # a crash abstains
    assert Result.of_outcome(Outcome(error={"type": "TypeError"})) == Result("error", error="TypeError")


def test_a_behaviour_every_peer_shares_is_no_finding() -> None:
    shared, shown = decide(_v(NAN), [Peer("b", "b.f", _v(NAN)), Peer("c", "c.f", _v(NAN))])
    assert shared and all(e["agrees"] for e in shown.values())


def test_the_majority_decides_and_an_outlier_keeps_its_finding() -> None:
    mine = _v(0.0)
    assert not decide(mine, [Peer("b", "b.f", _v(NAN)), Peer("c", "c.f", _v(NAN))])[0]  # outlier
    assert decide(mine, [Peer("b", "b.f", _v(0.0)), Peer("c", "c.f", _v(NAN))])[0]  # with b against c
    assert not decide(mine, [Peer("b", "b.f", _v(NAN))])[0]  # a tie: the reference decides
    assert not decide(mine, [Peer("b", "b.f", None)])[0]  # nobody answered, and no silence given: the reference decides
    shared, shown = decide(mine, [Peer("b", "b.f", _v(NAN)), Peer("c", "c.f", Result("error", error="ValueError"))])
    assert not shared
    assert summary(shown) == "peers on the same call: b differs, c raises ValueError (no opinion on the value)"


def test_on_a_convention_a_peer_computing_float64_in_float32_still_agrees() -> None:
    """The question is nan or a number: precision is another finding's matter (but not for a gradient's value)."""
    mine, peer = _v(11.34368365332343, dtype="float64"), _v(11.343683242797852, dtype="float64")
    assert decide(mine, [Peer("b", "b.f", peer)], silent="non-finite input")[0]
    assert not decide(mine, [Peer("b", "b.f", peer)], silent="no doc states the gradient")[0]


def test_a_peer_that_raises_has_no_opinion_on_what_a_value_should_be() -> None:
    """nan or a number is asked of peers that compute; one that raises (say, no kernel for the dtype) abstains."""
    shared, shown = decide(_v(NAN), [Peer("b", "b.f", Result("error", error="TypeError"))], silent="non-finite input")
    assert shared  # the only peer abstains: nobody answered, no finding
    assert shown["b"]["agrees"] is None and shown["b"]["result"] == {"error": "TypeError"}
    assert summary(shown) == "peers on the same call: b raises TypeError (no opinion on the value)"
    raising = Result("error", error="ValueError")  # whether to raise is the question: then raising is an answer
    assert decide(_v(1.0), [Peer("b", "b.f", raising), Peer("c", "c.f", raising)],
                      silent="no doc states what this input does")[1]["b"]["agrees"] is not None


RAISE = "no doc states what this input does"


def test_on_whether_to_raise_computing_agrees_with_computing_whatever_the_value() -> None:
    """A shape probe no doc decides: torch broadcasts to nan, mindspore to inf (empty mean), paddle raises. What
    an input that breaks a precondition evaluates to is no question: torch computes as mindspore does."""
    mine = _v(NAN)
    asked = [Peer("mindspore", "m.f", _v(INF)), Peer("paddle", "p.f", Result("error", error="ValueError"))]
    shared, shown = decide(mine, asked, silent=RAISE)
    assert shared and shown["mindspore"]["agrees"] and not shown["paddle"]["agrees"]
    assert not decide(mine, asked, silent="non-finite input")[0]  # where the value is the question, nan is not inf
    assert not decide(_v(1.0, 2.0), [Peer("b", "b.f", _v(1.0))], silent=RAISE)[0]  # another shape is another answer


def test_a_question_no_doc_decides_and_no_peer_answers_is_no_finding() -> None:
    """A bfloat16 shape probe that no peer's docs cover, a gradient or nan no peer can compute: nothing decides."""
    nobody = [Peer("mindspore", "m.f", None), Peer("paddle", "p.f", None)]
    for silent in (RAISE, "no doc states the gradient", "non-finite input", "subgradient at a kink",
                   "the formula's result is not finite", "non-finite result where the formula's is finite", DTYPES):
        assert decide(_v(NAN), nobody, silent=silent)[0], silent
    assert not decide(_v(NAN), nobody)[0]
    raising = [Peer("b", "b.f", Result("error", error="TypeError"))]  # raises on a value question: abstains
    assert decide(_v(NAN), raising, silent="non-finite input")[0]


def test_gradients_of_the_same_rule_agree_across_backward_formulas() -> None:
    """BCE at input 0: torch and paddle both divide by an epsilon-clamped x(1-x), in float64 4e-9 apart."""
    mine, peer = _v(-794345113389.0, dtype="float64"), _v(-794345110215.6725, dtype="float64")
    assert decide(mine, [Peer("paddle", "p.f", peer)], silent="no doc states the gradient")[0]
    assert not decide(mine, [Peer("paddle", "p.f", peer)])[0]  # values keep the strict floor


def test_a_peer_that_gives_no_gradient_for_the_input_has_no_opinion_on_it() -> None:
    """BCE's target gradient at input 0: paddle differentiates the input only, mindspore has no float64: nobody answers."""
    shared, shown = decide(_v(INF, dtype="float64"), [Peer("paddle", "p.f", Result("none")), Peer("mindspore", "m.f", None)],
                           silent="no doc states the gradient")
    assert shared and shown["paddle"]["agrees"] is None and shown["paddle"]["result"] == {"value": None}
    assert summary(shown) == "peers on the same call: paddle: no value (no opinion on it), mindspore: no answer"
    assert not decide(_v(INF), [Peer("paddle", "p.f", Result("none")), Peer("b", "b.f", _v(1.0))],
                      silent="no doc states the gradient")[0]  # the peer that answers decides


def test_half_precision_results_near_zero_agree_within_an_ulp_of_one() -> None:
    # terms near 0.33 that cancel: one framework keeps an ulp of them (4.9e-4 in float16), another gives 0
    assert agree(_v(NAN, 4.9e-4, -2.4e-4, dtype="float16"), _v(NAN, 0.0, -2.4e-4, dtype="float16"))
    assert not agree(_v(NAN, 0.1, dtype="float16"), _v(NAN, 0.0, dtype="float16"))
    assert not agree(_v(4.9e-4, dtype="float32"), _v(0.0, dtype="float32"))  # float32 keeps the result's own scale


def test_refusing_a_dtype_no_doc_lists_that_no_peer_can_run_is_no_finding() -> None:
    refused = Result("error", error="NotImplementedError")
    shared, shown = decide(refused, [Peer("b", "b.f", None), Peer("c", "c.f", None)], DTYPES)
    assert shared and all(e["agrees"] is None for e in shown.values())
    computes = decide(refused, [Peer("b", "b.f", _v(1.0, dtype="float16")), Peer("c", "c.f", None)], DTYPES)[0]
    assert not computes  # a peer that computes it makes the refusal a finding


def test_a_zero_gradient_where_the_formulas_is_not_is_no_opinion() -> None:
    from pathlib import Path

    from harness.checks.gradients import CHECK
    from harness.judge.verdicts import Verdict
    from harness.spec.model import load_spec

    ROOT = Path(__file__).resolve().parent.parent

    b = load_spec(ROOT / "specs" / "losses" / "kl_div_loss.yaml").bindings[0]
    v = Verdict(b, None, "gradients", "value", "value", "value",
                expected={"wrt": "target", "gradient": {"dtype": "float64", "shape": [2], "values": [0.5, "nan"]}})
    zeros, some = _v(0.0, 0.0, dtype="float64"), _v(0.0, 0.1, dtype="float64")
    assert CHECK.no_opinion(v, zeros)  # the peer does not differentiate the target
    assert not CHECK.no_opinion(v, some)
    v.expected = {"wrt": "target", "gradient": {"dtype": "float64", "shape": [2], "values": [0.0, "nan"]}}
    assert not CHECK.no_opinion(v, zeros)  # a zero the formula also gives is an answer


def test_a_value_beyond_the_narrower_dtype_agrees_with_its_overflow() -> None:
    # torch in float16 overflows to inf; a peer asked in float32 gives the finite 6.25e11 float16 cannot hold
    assert agree(_v(INF, 1.0, dtype="float16"), _v(6.25e11, 1.0, dtype="float32"))
    assert not agree(_v(-INF, 1.0, dtype="float16"), _v(6.25e11, 1.0, dtype="float32"))
    assert not agree(_v(INF, dtype="float32"), _v(6.25e11, dtype="float32"))  # within float32's range: finite


def test_a_peer_that_crashes_is_still_asked_other_questions_and_one_that_hangs_is_not():
    from harness.run.pipeline import _PeerGuard
    guard = _PeerGuard()
    calls = [{"id": i, "target": "t", "args": [i]} for i in range(10)]
    for r in calls[:5]:  # crashes are cheap (a fork): which questions get answers must not depend on call order
        guard.observe(r, {"crash": "crash"})
    assert not guard.admit(calls[0]) and guard.admit(calls[5])
    for r in calls[5:8]:  # each hang costs a deadline
        guard.observe(r, {"crash": "timeout"})
    assert not guard.admit(calls[9])
