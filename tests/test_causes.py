"""Root causes over a run's merged findings, the text summary that lists them, and the gate's class policy."""
import json
from pathlib import Path

from harness.cli import main
from harness.gate import delta
from harness.judge import causes
from harness.report.html import text_table
from harness.report.results import merge


def _f(fid, target="paddle.nn.SmoothL1Loss", check="values", klass="precision", rule="param-float32:beta",
       documented=False, region=None, count=3, repro=True):
    return {"id": fid, "api": "smooth_l1_loss", "framework": target.split(".")[0], "target": target, "check": check,
            "verdict": "value", "documented": documented, "class": klass, "count": count, "explored": False,
            "diagnosis": {"rule": rule, "text": f"diagnosis of {fid}"}, "message": "", "region": region or
            {"dtype(input)": ["float64"], "values": ["finite"]}, "repro": {"x": 1} if repro else None}


def test_bindings_dtypes_and_regions_of_one_behaviour_are_one_cause():
    found = causes.of([_f("a1"), _f("a2", target="paddle.nn.functional.smooth_l1_loss"),
                       _f("a3", region={"dtype(input)": ["float32"], "values": ["finite"]}),
                       _f("b1", klass="wrong-value", rule="measured:nan"),
                       _f("c1", target="torch.nn.SmoothL1Loss")])
    by_findings = {tuple(c["findings"]): c for c in found}
    assert set(by_findings) == {("a1", "a3", "a2"), ("b1",), ("c1",)}
    joint = by_findings[("a1", "a3", "a2")]
    assert joint["targets"] == ["paddle.nn.SmoothL1Loss", "paddle.nn.functional.smooth_l1_loss"]
    assert joint["cases"] == 9 and joint["class"] == "precision" and joint["repro"] == f"repro/{joint['lead']}.py"
    assert [c["class"] for c in found] == ["wrong-value", "precision", "precision"]  # most severe first


def test_a_cause_id_names_the_behaviour_not_its_findings():
    one = causes.of([_f("a1"), _f("a2")])
    other = causes.of([_f("zz", target="paddle.nn.functional.smooth_l1_loss")])
    assert one[0]["id"] == other[0]["id"]
    assert causes.of([_f("a1", rule="float32")])[0]["id"] != one[0]["id"]
    assert causes.of([_f("a1", documented=True)])[0]["id"] != one[0]["id"]


def test_gradient_findings_are_explained_by_a_values_finding_on_the_same_cases():
    grads = [_f("g1", check="gradients", klass="wrong-value", rule="gradient:finite", repro=False),
             _f("g2", check="gradients", klass="wrong-value", rule="gradient:nan", repro=False)]
    found = causes.of([_f("v1", klass="wrong-value", rule="ratio:beta"), *grads])
    assert len(found) == 1 and found[0]["findings"] == ["v1"] and found[0]["explains"] == ["g1", "g2"]
    elsewhere = [dict(g, region={"dtype(input)": ["float16"], "values": ["finite"]}) for g in grads]
    found = causes.of([_f("v1", klass="wrong-value", rule="ratio:beta"), *elsewhere])
    assert len(found) == 3 and not any(c["explains"] for c in found)  # other dtypes: not the same cases
    assert len(causes.of(grads)) == 2  # no values behaviour to explain them


def _part(tmp_path, findings):
    target = {"api": "smooth_l1_loss", "title": "SmoothL1Loss", "framework": "paddle", "target": "paddle.nn.SmoothL1Loss",
              "kind": "class", "counts": {"values": {"value": 3}}, "calls": 3, "seconds": 0.1, "error": None, "notes": {},
              "gradient_seconds": 0.0, "spec": "specs/losses/smooth_l1_loss.yaml", "findings": findings}
    path = tmp_path / "part.json"
    path.write_text(json.dumps({"frameworks": {"paddle": "3.3.1"}, "targets": [target], "spec_errors": [],
                                "missing": [], "apis": {}, "coverage": {}}))
    return path


def test_merge_writes_causes_and_the_text_summary_lists_causes_not_findings(tmp_path):
    findings = [_f("a1"), _f("a2"), _f("b1", klass="wrong-value", rule="measured:nan")]
    report = merge([_part(tmp_path, findings)], {"seed": 1})
    assert [len(c["findings"]) for c in report["causes"]] == [1, 2]
    assert report["summary"]["causes"] == 2 and report["summary"]["classes"]["precision"] == 2
    text = text_table(report)
    rows = [line for line in text.splitlines() if line.startswith(("precision", "wrong-value"))]
    assert len(rows) == 2 and "diagnosis of b1" in rows[0]
    assert "2 causes (2 undocumented) of 3 findings" in text


def _gate_report(klass):
    f = _f("abcdefabcdef", target="paddle.nn.L1Loss", klass=klass)
    f.update(api="l1_loss", subject="")
    return {"frameworks": {"paddle": "3.3.1"}, "findings": [f], "spec_errors": [],
            "targets": [{"target": "paddle.nn.L1Loss", "framework": "paddle", "error": None}]}


def test_the_gate_fails_only_on_the_classes_its_policy_gates():
    report = _gate_report("precision")
    assert delta.compare({}, report, "old", "new").exit_code == delta.FINDINGS  # all classes gate by default
    d = delta.compare({}, report, "old", "new", gating=frozenset({"crash-memory", "wrong-value"}))
    assert d.exit_code == delta.OK and [e.id for e in d.ungated] == ["abcdefabcdef"]
    assert "NOT GATED (1" in delta.text(d) and d.to_json()["ungated"][0]["class"] == "precision"
    d = delta.compare({}, _gate_report("wrong-value"), "old", "new", gating=frozenset({"crash-memory", "wrong-value"}))
    assert d.exit_code == delta.FINDINGS and not d.ungated


def test_gate_command_takes_a_class_policy(tmp_path, capsys):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(_gate_report("convention")))
    base = tmp_path / "baselines"
    base.mkdir()
    args = ["gate", "--report", str(path), "--baselines", str(base), "--out", str(tmp_path)]
    assert main(args) == delta.FINDINGS
    assert main([*args, "--classes", "crash-memory,wrong-value,error"]) == delta.OK
    assert "NOT GATED" in Path(tmp_path / "gate.txt").read_text()
    try:
        main([*args, "--classes", "bogus"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("an unknown class must be refused")
    assert "unknown finding class" in capsys.readouterr().err
