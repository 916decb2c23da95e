"""Baselines, the gate and `harness diff`: what changed, and the exit status CI acts on."""
import ast
import json
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.gate import baselines as baseline
from harness.gate import delta
from harness.run.frameworks import registry

ROOT = Path(__file__).resolve().parent.parent


def _finding(fid, verdict="value", documented=False, target="paddle.nn.L1Loss", check="values", region=None):
    return {"id": fid, "verdict": verdict, "documented": documented, "api": "l1_loss", "framework": target.split(".")[0],
            "target": target, "check": check, "region": region or {"dtype(input)": ["float64"]}}


def _report(findings, version="3.3.1", targets=("paddle.nn.L1Loss",), spec_errors=(), error=None):
    return {"frameworks": {"paddle": version}, "findings": list(findings), "spec_errors": list(spec_errors),
            "targets": [{"target": t, "framework": t.split(".")[0], "error": error} for t in targets]}


def test_baseline_round_trip_is_sorted_one_finding_per_line(tmp_path):
    report = _report([_finding("bbbbbbbbbbbb"), _finding("aaaaaaaaaaaa", check="dtypes", region={"x": ["a b", "c"]})])
    [path] = baseline.write(report, tmp_path)
    assert path.name == "paddle-3.3.1.txt"
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert [line.split()[0] for line in lines] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]  # sorted by api, target, check
    assert baseline.read(path) == baseline.entries(report)


def test_a_malformed_baseline_line_names_file_line_and_fix(tmp_path):
    path = tmp_path / "paddle-1.0.txt"
    path.write_text("# header\nnot a line\n")
    with pytest.raises(ValueError, match=r"paddle-1.0.txt:2: .*harness baseline update"):
        baseline.read(path)


def test_framework_and_version_cannot_be_paths(tmp_path):
    for framework, version in [("../x", "1"), ("paddle", "../../etc"), ("paddle", "1/2")]:
        with pytest.raises(ValueError):
            baseline.path_for(framework, version, tmp_path)


def test_closest_baseline_is_own_version_else_newest_older(tmp_path):
    for v in ["3.2.2", "3.3.1", "3.10.0"]:
        (tmp_path / f"paddle-{v}.txt").write_text("")
    assert baseline.versions("paddle", tmp_path) == ["3.2.2", "3.3.1", "3.10.0"]  # numeric, not string, order
    assert baseline.closest("paddle", "3.3.1", tmp_path) == "3.3.1"
    assert baseline.closest("paddle", "3.4.0", tmp_path) == "3.3.1"
    assert baseline.closest("paddle", "3.0.0", tmp_path) == "3.2.2"
    assert baseline.closest("torch", "2.13.0", tmp_path) is None


def test_compare_sorts_new_changed_fixed_and_not_run():
    old = baseline.entries(_report([
        _finding("keep00000000"), _finding("change000000"), _finding("gone00000000"), _finding("redoc0000000"),
        _finding("other0000000", target="paddle.nn.functional.l1_loss")]))
    new = _report([_finding("keep00000000"), _finding("change000000", verdict="unexpected-error"),
                   _finding("redoc0000000", documented=True), _finding("fresh0000000")])
    d = delta.compare(old, new, "old", "new")
    assert [e.id for e in d.new] == ["fresh0000000"]
    assert [(a.verdict, b.verdict) for a, b in d.changed] == [("value", "unexpected-error")]
    assert [e.id for e in d.fixed] == ["gone00000000"]
    assert [e.id for e in d.not_run] == ["other0000000"]  # its target did not run: neither fixed nor failing
    assert [b.id for _, b in d.redocumented] == ["redoc0000000"] and d.unchanged == 1
    assert d.exit_code == delta.FINDINGS
    text = delta.text(d)
    assert "+ fresh0000000" in text and "(was value)" in text and "- gone00000000" in text and "exit 1" in text


def test_exit_status_zero_when_only_fixed_two_when_harness_could_not_run():
    old = baseline.entries(_report([_finding("gone00000000")]))
    assert delta.compare(old, _report([]), "a", "b").exit_code == delta.OK
    bad_spec = {"file": "specs/x.yaml", "line": 3, "message": "unknown key", "fix": "remove it"}
    assert delta.compare(old, _report([], spec_errors=[bad_spec]), "a", "b").exit_code == delta.HARNESS_ERROR
    crashed = _report([], error="worker did not start")
    d = delta.compare(old, crashed, "a", "b")
    assert d.exit_code == delta.HARNESS_ERROR and d.fixed == []  # a target that did not run fixes nothing


def test_diff_reports_shows_versions_and_escapes_html():
    old = _report([_finding("gone00000000")], version="3.2.2")
    new = _report([_finding("fresh0000000", region={"msg": ["<script>alert(1)</script>"]})], version="3.3.1")
    d = delta.diff_reports(old, new)
    assert d.versions == {"paddle": ("3.2.2", "3.3.1")} and d.exit_code == delta.FINDINGS
    page = delta.html(d)
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "3.2.2" in page


def test_cli_gate_and_baseline_update_exit_codes(tmp_path, capsys):
    report_path, baselines = tmp_path / "report.json", tmp_path / "baselines"
    report_path.write_text(json.dumps(_report([_finding("aaaaaaaaaaaa")])))
    args = ["--report", str(report_path), "--baselines", str(baselines)]
    accept = [*args, "--cases", str(tmp_path / "cases")]  # never the project's own cases/regressions
    assert main(["gate", *args, "--out", str(tmp_path)]) == 1  # no baseline yet: everything is new
    assert "NO BASELINE" in capsys.readouterr().out
    assert main(["baseline", "update", *accept]) == 0
    assert main(["gate", *args, "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "gate.json").read_text())["exit_code"] == 0
    report_path.write_text(json.dumps(_report([_finding("aaaaaaaaaaaa", verdict="crash")])))
    assert main(["gate", *args, "--out", str(tmp_path)]) == 1
    assert main(["gate", "--report", str(tmp_path / "absent.json"), "--out", str(tmp_path)]) == 2
    report_path.write_text(json.dumps(_report([], spec_errors=[{"file": "f", "line": 1, "message": "m", "fix": "x"}])))
    assert main(["baseline", "update", *accept]) == 2  # a broken run is never accepted


def _nox_sessions() -> set[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    return {fn.name for fn in tree.body if isinstance(fn, ast.FunctionDef)
            and any("session" in ast.unparse(d) for d in fn.decorator_list)}


def test_workflow_parses_and_names_sessions_the_noxfile_defines():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "conformance.yml").read_text())
    assert workflow["name"] and "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    runs = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    named = {line.split("nox -s ", 1)[1].split()[0] for run in runs for line in run.splitlines() if "nox -s " in line}
    assert named and named <= _nox_sessions(), (named, _nox_sessions())
    gate = workflow["jobs"]["gate"]
    assert gate["strategy"]["matrix"]["framework"] == list(registry.names())  # one job per registered framework
    uploads = [s for s in gate["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads and "reports/index.html" in uploads[0]["with"]["path"]


def test_noxfile_pins_and_command_line_versions():
    pytest.importorskip("nox")
    import importlib.util

    spec = importlib.util.spec_from_file_location("project_noxfile", ROOT / "noxfile.py")
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    pins, rest = noxfile.parse_posargs(["paddlepaddle==3.2.2", "-k", "smooth_l1"])
    assert pins["paddle"][0] == "paddlepaddle==3.2.2" and pins["torch"] == noxfile.FRAMEWORKS["torch"]
    assert rest == ["-k", "smooth_l1"]
    pins, rest = noxfile.parse_posargs(["--frameworks", "mindspore", "mindspore==2.9.0"])
    assert list(pins) == ["mindspore"] and pins["mindspore"][0] == "mindspore==2.9.0" and rest == []
    with pytest.raises(SystemExit, match="unknown framework"):
        noxfile.parse_posargs(["--frameworks", "tensorflow"])


def test_findings_only_exploration_found_are_listed_but_do_not_fail():
    explored = dict(_finding("fresh0000000"), explored=True)
    d = delta.compare({}, _report([explored]), "old", "new")
    assert [e.id for e in d.explored] == ["fresh0000000"] and d.new == [] and d.exit_code == delta.OK
    assert "EXPLORED (1, not failing" in delta.text(d)


def test_a_changed_verdict_only_exploration_shows_is_listed_but_does_not_fail():
    """The accepted case no longer shows the finding (memory nothing wrote came out right this time) and an explored
    case shows another verdict under the same id: what decides the gate must not depend on the seed."""
    old = baseline.entries(_report([_finding("same00000000", verdict="nondeterministic")]))
    new = _report([dict(_finding("same00000000", verdict="unexpected-error"), explored=True)])
    d = delta.compare(old, new, "old", "new")
    assert d.changed == [] and [e.id for e in d.explored] == ["same00000000"] and d.exit_code == delta.OK
    fixed = _report([_finding("same00000000", verdict="unexpected-error")])  # the accepted case, answering one way
    assert [b.id for _, b in delta.compare(old, fixed, "old", "new").flipped] == ["same00000000"]
    stable = baseline.entries(_report([_finding("same00000000", verdict="value")]))
    assert [b.id for _, b in delta.compare(stable, fixed, "old", "new").changed] == ["same00000000"]


def _with_subject(finding, subject=""):
    return {**finding, "subject": subject}


def test_a_finding_whose_region_moved_is_listed_as_moved_and_does_not_fail():
    """The same cause (api, target, check, subject, verdict, partition) on other axis values: not new, not fixed."""
    old = baseline.entries(_report([_with_subject(_finding("was000000000", region={"dtype(input)": ["float16", "float32"],
                                                                                     "values": ["finite"]}))]))
    new = _report([_with_subject(_finding("now000000000", region={"dtype(input)": ["float16"], "values": ["finite"]}))])
    d = delta.compare(old, new, "a", "b")
    assert [(a.id, b.id) for a, b in d.moved] == [("was000000000", "now000000000")]
    assert d.new == [] and d.fixed == [] and d.exit_code == delta.OK
    assert "MOVED (1" in delta.text(d) and "Moved (1" in delta.html(d)


def test_moved_never_pairs_another_cause():
    """Another partition (non-finite values), another subject, another verdict, or an unknown subject: new and fixed."""
    was = _with_subject(_finding("was000000000", region={"values": ["finite"]}), "input")
    for other in (_with_subject(_finding("now000000000", region={"values": ["non-finite"]}), "input"),
                  _with_subject(_finding("now000000000", region={"values": ["finite"]}), "input at kinks"),
                  _with_subject(_finding("now000000000", verdict="unexpected-error", region={"values": ["finite"]}), "input"),
                  _finding("now000000000", region={"values": ["finite"]})):
        d = delta.compare(baseline.entries(_report([was])), _report([other]), "a", "b")
        assert d.moved == [] and [e.id for e in d.new] == ["now000000000"] and d.exit_code == delta.FINDINGS


def test_a_flip_between_crash_timeout_and_nondeterministic_does_not_fail_but_a_value_that_crashes_does():
    old = baseline.entries(_report([_finding("heap00000000", verdict="crash"), _finding("calc00000000", verdict="value")]))
    d = delta.compare(old, _report([_finding("heap00000000", verdict="timeout"), _finding("calc00000000", verdict="crash")]),
                      "a", "b")
    assert [(a.verdict, b.verdict) for a, b in d.flipped] == [("crash", "timeout")]
    assert [(a.verdict, b.verdict) for a, b in d.changed] == [("value", "crash")] and d.exit_code == delta.FINDINGS
    assert "FLIPPED (1" in delta.text(d)


def test_a_call_accepted_as_nondeterministic_that_answers_one_way_in_a_run_is_flipped_but_not_the_reverse():
    old = baseline.entries(_report([_finding("vary00000000", verdict="nondeterministic"),
                                     _finding("calc00000000", verdict="value")]))
    d = delta.compare(old, _report([_finding("vary00000000", verdict="unexpected-error"),
                                    _finding("calc00000000", verdict="nondeterministic")]), "a", "b")
    assert [(a.verdict, b.verdict) for a, b in d.flipped] == [("nondeterministic", "unexpected-error")]
    assert [(a.verdict, b.verdict) for a, b in d.changed] == [("value", "nondeterministic")] and d.exit_code == delta.FINDINGS


def test_baseline_lines_carry_the_subject_and_old_seven_column_files_still_read(tmp_path):
    report = _report([_with_subject(_finding("kink00000000", check="gradients"), "input at kinks"),
                      _with_subject(_finding("plain0000000"))])
    [path] = baseline.write(report, tmp_path)
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert any(line.endswith(" input_at_kinks") for line in lines) and any(line.endswith(" -") for line in lines)
    assert {e.subject for e in baseline.read(path).values()} == {"input_at_kinks", "-"}
    path.write_text("\n".join(" ".join(line.split(" ")[:7]) for line in lines) + "\n")
    assert {e.subject for e in baseline.read(path).values()} == {None}  # recorded before subjects: never paired


def test_the_gate_partition_keys_are_every_check_partition():
    from harness.checks import registry as checks

    assert set(delta.PARTITION_KEYS) == {k for c in checks.in_run_order() for k in c.partition}


def test_stability_counts_per_framework_what_each_seed_changed(tmp_path, capsys):
    baselines = tmp_path / "baselines"
    baseline.write(_report([_with_subject(_finding("keep00000000")), _with_subject(_finding("crash0000000", verdict="crash")),
                            _with_subject(_finding("moves0000000", region={"dtype(input)": ["float32", "float64"]}),
                                          "input")]), baselines)
    at_rest = _report([_with_subject(_finding("keep00000000")), _with_subject(_finding("crash0000000", verdict="timeout")),
                       _with_subject(_finding("moved0000000", region={"dtype(input)": ["float64"]}), "input")])
    changed = _report([_with_subject(_finding("keep00000000", verdict="unexpected-error")),
                       _with_subject(_finding("fresh0000000", region={"values": ["non-finite"]}))])
    paths = []
    for seed, report in ((1, at_rest), (2, changed)):
        (tmp_path / f"seed-{seed}").mkdir()
        (tmp_path / f"seed-{seed}" / "report.json").write_text(json.dumps({**report, "seed": seed}))
        paths.append(str(tmp_path / f"seed-{seed}"))
    assert main(["stability", paths[0], "--baselines", str(baselines), "--out", str(tmp_path)]) == delta.OK
    summary = json.loads((tmp_path / "stability.json").read_text())["frameworks"]["paddle"]
    assert summary["moved"]["per_run"] == [1] and summary["flipped"]["per_run"] == [1] and summary["new"]["per_run"] == [0]
    assert main(["stability", *paths, "--baselines", str(baselines), "--out", str(tmp_path)]) == delta.FINDINGS
    summary = json.loads((tmp_path / "stability.json").read_text())["frameworks"]["paddle"]
    assert summary["new"]["per_run"] == [0, 1] and summary["changed"]["per_run"] == [0, 1]
    assert summary["fixed"]["distinct"] == ["crash0000000", "moves0000000"]
    assert "FAIL: some run found new or changed findings (exit 1)" in capsys.readouterr().out


def test_a_finding_diagnosed_as_stale_memory_is_listed_not_failing():
    """Uninitialised memory on empty input comes and goes between runs: listed apart; any other new finding fails."""
    stale = {**_finding("stale0000000", verdict="value"), "diagnosis": {"rule": "empty-memory", "text": "stale"}}
    d = delta.compare({}, _report([stale]), "a", "b")
    assert [e.id for e in d.stale] == ["stale0000000"] and not d.new and d.exit_code == delta.OK
    assert "STALE MEMORY (1" in delta.text(d)
    d = delta.compare({}, _report([{**stale, "diagnosis": {"rule": "values", "text": "x"}}]), "a", "b")
    assert [e.id for e in d.new] == ["stale0000000"] and d.exit_code == delta.FINDINGS


def _diagnosed(finding, rule):
    return {**finding, "diagnosis": {"rule": rule, "text": rule}}


def test_another_empty_input_result_of_a_binding_shown_reading_memory_nothing_wrote_does_not_fail():
    memory = _diagnosed(_finding("mem000000000", verdict="nondeterministic", check="raises"), "empty-memory")
    zero = _diagnosed(_finding("zero00000000", verdict="value", check="raises"), "empty-input")  # 0 where nan
    d = delta.compare({}, _report([memory, zero]), "a", "b")
    assert sorted(e.id for e in d.stale) == ["mem000000000", "zero00000000"] and d.exit_code == delta.OK
    d = delta.compare({}, _report([zero]), "a", "b")  # no evidence this binding reads such memory: it fails
    assert [e.id for e in d.new] == ["zero00000000"] and d.exit_code == delta.FINDINGS


def test_an_empty_input_value_pairs_with_the_same_call_once_nondeterministic():
    was = _with_subject(_finding("was000000000", verdict="nondeterministic", region={"values": ["finite"]}))
    now = _diagnosed(_with_subject(_finding("now000000000", verdict="value", region={"dtype(input)": ["float16"],
                                                                                   "values": ["finite"]})), "empty-input")
    d = delta.compare(baseline.entries(_report([was])), _report([now]), "a", "b")
    assert [(a.id, b.id) for a, b in d.moved] == [("was000000000", "now000000000")] and d.exit_code == delta.OK
    other = _diagnosed(_with_subject(_finding("now000000000", verdict="value", region={"values": ["finite"]})), "measured")
    d = delta.compare(baseline.entries(_report([was])), _report([other]), "a", "b")
    assert d.moved == [] and d.exit_code == delta.FINDINGS  # a value not on empty input is another behaviour


def test_a_new_crash_or_varying_result_of_a_binding_whose_accepted_crash_is_still_there_is_flipped():
    hang = _finding("hang00000000", verdict="timeout")
    old = baseline.entries(_report([hang]))
    varies = _finding("vary00000000", verdict="nondeterministic", check="defaults", region={})
    d = delta.compare(old, _report([hang, varies]), "a", "b")
    assert [(a.id, b.id) for a, b in d.flipped] == [("hang00000000", "vary00000000")] and d.exit_code == delta.OK
    value = _finding("valu00000000", verdict="value", check="defaults", region={})
    assert delta.compare(old, _report([hang, value]), "a", "b").exit_code == delta.FINDINGS  # a stable answer gates
    assert delta.compare({}, _report([varies]), "a", "b").exit_code == delta.FINDINGS  # no accepted crash: gates
