"""The branch-coverage recorder: sides reached, sides never reached, domain values and raise rules."""
from pathlib import Path

import numpy as np

from harness.cases.case import Case
from harness.judge import coverage
from harness.report.html import coverage_lines
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
SMOOTH = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")


def smooth(x, t, beta=1.0, reduction="none", origin="generated"):
    return Case("smooth_l1_loss", {"input": np.asarray(x, np.float32), "target": np.asarray(t, np.float32)},
                {"beta": beta, "reduction": reduction}, origin=origin)


def branch(cov, text):
    return next(b for b in cov["branches"] if b["condition"] == text)


def test_both_sides_and_the_threshold_itself_are_counted_per_case():
    cov = coverage.of(SMOOTH, [smooth([0.5, 3.0], [0.0, 0.0]), smooth([1.0], [0.0])])
    d = branch(cov, "d < beta")
    assert d["reached"] == {"true": 1, "false": 2, "equal": 1}, "case 1 has both sides; case 2 sits on the threshold"
    assert d["untested"] == []


def test_an_untested_side_is_listed():
    cov = coverage.of(SMOOTH, [smooth([0.5], [0.0])])
    assert branch(cov, "d < beta")["untested"] == ["false", "equal"]
    assert branch(cov, "beta > 0")["untested"] == ["false", "equal"]
    gaps = coverage.untested(cov)
    assert "d < beta: false" in gaps and "reduction = 'sum'" in gaps
    assert any(g.startswith("raises ValueError when reduction not in") for g in gaps)
    assert cov["reached"] < cov["total"]


def test_a_branch_inside_an_untaken_side_is_untested_not_missing():
    spec = load_spec(ROOT / "specs" / "losses" / "cross_entropy.yaml")
    x = np.zeros((2, 3))
    c = Case("cross_entropy", {"input": x, "target": np.array([0, 1]), "weight": None},
             {"ignore_index": -100, "reduction": "sum", "label_smoothing": 0.0}, variant="indices")
    cov = coverage.of(spec, [c])
    conditions = {b["condition"] for b in cov["branches"]}
    assert "target != ignore_index" in conditions and "reduction == 'sum'" in conditions
    assert branch(cov, "target != ignore_index")["untested"] == ["false"], "ignore_index never present"
    assert branch(cov, "weight is None")["untested"] == ["false"]
    assert {d["what"]: d["untested"] for d in cov["domain"]}["variant"] == ["probabilities"]


def test_raise_rules_count_every_case_and_name_their_owner():
    cases = [smooth([1.0], [0.0], reduction="bogus", origin="invalid"), smooth([1.0], [0.0], beta=-1.0, origin="invalid"),
             smooth([1.0], [0.0])]
    cov = coverage.of(SMOOTH, cases)
    by = {(r["owner"], r["when"]): r["cases"] for r in cov["raises"]}
    assert by[("common", "reduction not in ('none', 'mean', 'sum')")] == 1
    assert by[("torch", "beta < 0")] == 1 and by[("mindspore", "beta <= 0")] == 1
    assert cov["valid"] == 1, "invalid probes count for raise rules only"


def test_report_lines_show_the_figure_and_every_gap():
    cov = coverage.of(SMOOTH, [smooth([0.5], [0.0])], {"cases": 0, "skipped": "because"})
    report = {"coverage": {"smooth_l1_loss": cov}, "summary": {"coverage": {"reached": cov["reached"], "total": cov["total"]}}}
    lines = coverage_lines(report)
    assert lines[0].startswith(f"coverage smooth_l1_loss: {cov['reached']}/{cov['total']}") and "skipped (because)" in lines[0]
    assert "  untested: d < beta: false" in lines
    assert lines[-1].startswith("coverage overall:")


def test_a_chained_comparison_used_as_a_condition_records_its_sides():
    from harness.spec.formula import parse

    f = parse("result = 1.0 if 0 < x < 1 else 2.0", ["x"])
    trace = coverage.Trace()
    for x in (0.5, 2.0):
        f.evaluate({"x": x}, trace=trace)
        trace.end_case()
    (key, text, sides), = coverage.conditions(f.tree, f.source)
    assert text == "0 < x < 1" and sides == ["true", "false"]
    assert dict(trace.reached[key]) == {"true": 1, "false": 1}
