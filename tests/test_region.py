"""A finding's region comes from moving its minimal case along each axis, so its id does not depend on the seed."""
from pathlib import Path

import numpy as np

from harness.cases import generate
from harness.judge.diagnose import diagnose
from harness.judge.findings import Finding, group
from harness.judge.region import axes, locate
from harness.judge.verdicts import Verdict
from harness.spec import dtypes
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")


def _case(dtype="float32", reduction="mean"):
    case = generate.draw(generate.valid_cases(SPEC), 1, 7)[0]
    x = np.array([0.5, -2.0], dtype=np.float64)
    arrays = {"input": dtypes.cast(x, dtype), "target": dtypes.cast(x * 0, dtype)}
    return case.with_(arrays=arrays, params={**case.params, "reduction": reduction, "beta": 1.0}, omit=())


def test_axes_move_one_feature_and_keep_linked_inputs_together():
    found = dict(axes(SPEC, _case()))
    assert [c.params["reduction"] for c in found["reduction"]] == ["none", "mean", "sum"]
    moved = found["dtype(input)"]
    assert [dtypes.name(c.arrays["input"]) for c in moved] == SPEC.model.inputs["input"].dtypes
    assert all(dtypes.name(c.arrays["target"]) == dtypes.name(c.arrays["input"]) for c in moved)  # target: like input
    assert "dtype(target)" not in found


def _fake_judge(holds_for):
    """A judge that reports a value discrepancy exactly where `holds_for(case)`: no framework involved."""
    binding = SPEC.binding("paddle.nn.SmoothL1Loss")

    def judge_cases(cases):
        return [Verdict(binding, c, "values", "value" if holds_for(c) else "match", "value", "value") for c in cases]
    return binding, judge_cases


def test_region_is_where_the_minimal_case_still_fails_whatever_case_found_it():
    binding, judge_cases = _fake_judge(lambda c: dtypes.name(c.arrays["input"]) == "float64")
    ids = set()
    for reduction in ("none", "sum"):  # two seeds' worth of different minimal cases
        v = judge_cases([_case("float64", reduction)])[0]
        [finding] = locate(group([v]), SPEC, lambda f: judge_cases)
        assert finding.region == {"dtype(input)": ["float64"], "values": ["finite"]}  # reduction: everywhere, left out
        ids.add(finding.id)
    assert len(ids) == 1


def test_findings_with_the_same_region_merge_and_keep_every_verdict():
    """Different drawn numbers, same place: one discrepancy whose verdict the numbers decide."""
    binding = SPEC.binding("paddle.nn.SmoothL1Loss")

    def judge_cases(cases):
        out = []
        for c in cases:
            verdict = "match"
            if dtypes.name(c.arrays["input"]) == "float64":
                verdict = "value" if float(c.arrays["input"].flat[0]) > 0 else "unexpected-error"
            out.append(Verdict(binding, c, "values", verdict, verdict, verdict))
        return out

    positive, negative = _case("float64"), _case("float64")
    negative = negative.with_(arrays={k: -a for k, a in negative.arrays.items()})
    findings = locate(group(judge_cases([positive, positive, negative])), SPEC, lambda f: judge_cases)
    assert len(findings) == 1 and isinstance(findings[0], Finding)
    assert findings[0].region == {"dtype(input)": ["float64"], "values": ["finite"]}
    assert findings[0].head.verdict == "value" and len(findings[0].verdicts) == 3  # the larger group leads


def test_replayed_case_comes_back_bit_for_bit_and_leads_its_finding(tmp_path):
    import json

    from harness.cases.case import replayable
    from harness.cases.examples import load_examples
    from harness.gate import replay

    case = _case("bfloat16").with_(arrays={"input": dtypes.cast(np.array([np.nan, -np.inf, 1e-3]), "bfloat16"),
                                           "target": dtypes.cast(np.array([0.1, 2.0, 3.0]), "bfloat16")},
                                   omit=("beta",), origin="invalid", note="beta=-1")
    entry = json.loads(json.dumps(replayable(case, "paddle.nn.SmoothL1Loss", "abc123")))  # as report.json holds it
    report = {"frameworks": {"paddle": "3.3.1"}, "findings": [{"api": SPEC.api, "replay": entry}]}
    [path] = replay.write(report, tmp_path)
    [back] = load_examples(tmp_path, SPEC)
    assert back.fingerprint() == case.fingerprint() and back.regression == "abc123"
    assert (back.origin, back.note, back.omit, back.targets) == ("invalid", "beta=-1", ("beta",), ("paddle.nn.SmoothL1Loss",))
    # a later update for torch only keeps paddle's replayed case
    replay.write({"frameworks": {"torch": "2"}, "findings": []}, tmp_path)
    assert [c.regression for c in load_examples(tmp_path, SPEC)] == ["abc123"]
    # and in a finding, the replayed case leads whatever simpler case a seed drew
    binding = SPEC.binding("paddle.nn.SmoothL1Loss")
    small = _case().with_(arrays={"input": np.full(1, np.nan, np.float32), "target": np.zeros(1, np.float32)})
    [finding] = group([Verdict(binding, c, "values", "value", "value", "value") for c in (small, back.with_(origin="generated"))])
    assert finding.head.case.regression == "abc123"


def test_core_cases_do_not_depend_on_the_seed_and_explored_ones_do():
    from harness.cases import pairwise
    from harness.run.pipeline import Config, SpecRun

    a, b = SpecRun(SPEC, Config(seed=1, max_examples=30)), SpecRun(SPEC, Config(seed=2, max_examples=30))
    core = lambda run: [c.fingerprint() for c in run.cases if not c.explored]  # noqa: E731
    explored = lambda run: {c.fingerprint() for c in run.cases if c.explored}  # noqa: E731
    # the drawn core, one case per probe, and the pairwise top-up (cases/pairwise.py)
    assert core(a) == core(b) and 20 < len(core(a)) <= 20 + len(SPEC.probes) + pairwise.MAX_ADDED
    assert explored(a) and explored(a) != explored(b)


def test_an_axis_value_the_two_probe_runs_disagree_on_is_unstable_and_not_in_the_id():
    """float16 shows the discrepancy in the binding's worker but not in a fresh process (as MindSpore's stale
    memory does): it is marked unstable, and the id is the one where float16 never shows it."""
    binding, fresh = _fake_judge(lambda c: dtypes.name(c.arrays["input"]) == "float64")
    _, shared = _fake_judge(lambda c: dtypes.name(c.arrays["input"]) in ("float16", "float64"))
    v = fresh([_case("float64")])[0]
    [varies] = locate(group([v]), SPEC, lambda f: shared, isolated=lambda judge: fresh)
    [steady] = locate(group([fresh([_case("float64")])[0]]), SPEC, lambda f: fresh, isolated=lambda judge: fresh)
    assert varies.unstable == {"dtype(input)": ["float16"]}
    assert varies.region == steady.region == {"dtype(input)": ["float64"], "values": ["finite"]}
    assert varies.id == steady.id and not steady.unstable


def test_of_two_findings_with_one_id_the_one_holding_a_replayed_case_leads() -> None:
    """On empty input a framework reading stale memory splits its cases between verdicts anew each run: the
    accepted finding's replayed case decides which verdict the merged finding shows."""
    from harness.cases.case import Case
    from harness.judge.findings import identify

    spec = load_spec(Path(__file__).resolve().parent.parent / "specs" / "losses" / "huber_loss.yaml")
    b = spec.binding("mindspore.nn.HuberLoss")
    x = np.zeros(2)

    def v(verdict: str, regression: str = "") -> Verdict:
        case = Case("huber_loss", {"input": x, "target": x}, {"reduction": "none", "delta": 1.0}, regression=regression)
        return Verdict(b, case, "dtypes", verdict, verdict, verdict)

    region = {"dtype(input)": ["float64"]}
    [fid] = {f.id for f in identify([Finding("", [v("value")], dict(region), v("value"))])}
    replayed = Finding("", [v("value", fid)], dict(region), v("value", fid))
    more = Finding("", [v("missing-error"), v("missing-error")], dict(region), v("missing-error"))
    [lead] = identify([more, replayed])
    assert lead.head.verdict == "value" and len(lead.verdicts) == 3
    # another accepted finding's replayed case in the larger group does not make it lead
    other = Finding("", [v("missing-error", "0123456789ab"), v("missing-error"), v("missing-error")], dict(region),
                    v("missing-error", "0123456789ab"))
    replayed = Finding("", [v("value", fid)], dict(region), v("value", fid))
    [lead] = identify([other, replayed])
    assert lead.head.verdict == "value"


def test_a_replayed_case_on_non_empty_input_leads_one_on_empty_input() -> None:
    """Memory nothing wrote lands an empty replayed case in whichever group a run gives it: it must not lead."""
    from harness.cases.case import Case
    from harness.judge.findings import leading

    spec = load_spec(Path(__file__).resolve().parent.parent / "specs" / "losses" / "huber_loss.yaml")
    b = spec.binding("mindspore.nn.HuberLoss")

    def v(x: np.ndarray, regression: str) -> Verdict:
        case = Case("huber_loss", {"input": x, "target": x}, {"reduction": "mean", "delta": 1.0}, regression=regression)
        return Verdict(b, case, "dtypes", "value", "value", "value")

    empty, scalar = v(np.zeros((2, 0, 0)), "5aec918ed933"), v(np.zeros(()), "036707612a3e")
    assert min([empty, scalar], key=leading) is scalar
    assert min([empty, v(np.zeros(3), "")], key=leading) is empty  # a replayed case still leads a drawn one


def test_a_non_finite_discrepancy_also_on_its_finite_twin_is_no_convention():
    binding = SPEC.binding("paddle.nn.SmoothL1Loss")
    nan_case = _case("float64").with_(arrays={"input": np.array([0.5, np.nan]), "target": np.zeros(2)})

    def judge_with(finite_too):
        def judge_cases(cases):
            out = []
            for c in cases:
                shows = c.nonfinite or finite_too
                out.append(Verdict(binding, c, "values", "value" if shows else "match", "value", "value",
                                   silent="non-finite input" if c.nonfinite else ""))
            return out
        return judge_cases

    for finite_too in (False, True):
        judge_cases = judge_with(finite_too)
        [finding] = locate(group(judge_cases([nan_case])), SPEC, lambda f, j=judge_cases: j)
        head = finding.head
        if finite_too:  # the nan has nothing to do with it: the docs decide on the twin
            assert head.silent == "" and head.finite_twin is not None and not head.finite_twin.case.nonfinite
            assert "the same on finite input (every nan and inf set to 0.5)" in diagnose(head).text
        else:
            assert head.silent == "non-finite input" and head.finite_twin is None
