"""The run session without pytest and without a framework: what loading specs leaves in the part file,
and the one function that publishes a merged report."""
import json
import shutil
from pathlib import Path

import pytest

from harness.report.publish import publish
from harness.report.results import merge
from harness.run.session import RunOptions, RunSession
from harness.spec.source import SourceError

DATA = Path(__file__).parent / "data"


def _session(tmp_path: Path) -> RunSession:
    options = RunOptions(seed=1, max_examples=6, workers={"torch": "/nonexistent/python"}, case_timeout=5.0,
                         memory_limit=0, recheck=False, report_dir=tmp_path / "reports", cases_dir=tmp_path / "cases")
    return RunSession(options, tmp_path / "reports" / "parts" / "run" / "main.json", {"seed": 1, "max_examples": 6})


def test_load_records_specs_and_refuses_a_second_file_with_the_same_api(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(DATA / "good_minimal.yaml", specs / "a.yaml")
    shutil.copy(DATA / "good_minimal.yaml", specs / "b.yaml")
    session = _session(tmp_path)
    spec = session.load(specs / "a.yaml")
    assert session.load(specs / "a.yaml").api == spec.api  # the same file again is no duplicate
    with pytest.raises(SourceError, match="already defined in"):
        session.load(specs / "b.yaml")
    session.close(finished=True)
    part = json.loads(session.part.path.read_text())
    assert spec.api in part["apis"] and part["meta"]["finished"] and "started" in part["meta"]
    assert [e["file"] for e in part["spec_errors"]] == [str(specs / "b.yaml")]


def test_an_interrupted_session_leaves_its_part_unfinished(tmp_path):
    session = _session(tmp_path)
    with pytest.raises(SourceError):
        session.load(DATA / "bad_specs" / "formula_outside_vocabulary.yaml")
    session.close(finished=False)
    report = merge([session.part.path], {})
    assert report["incomplete"] and report["spec_errors"][0]["line"] == 13


def test_publish_writes_report_json_and_index_html(tmp_path):
    session = _session(tmp_path)
    with pytest.raises(SourceError):
        session.load(DATA / "bad_specs" / "formula_outside_vocabulary.yaml")
    session.close(finished=True)
    report = merge([session.part.path], {"seed": 1, "max_examples": 6})
    assert not report["incomplete"]
    publish(report, tmp_path / "out")
    assert (tmp_path / "out" / "report.json").read_text() == json.dumps(report, indent=1, sort_keys=True)
    assert (tmp_path / "out" / "index.html").read_text().lower().startswith("<!doctype html>")
