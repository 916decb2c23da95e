import json
from pathlib import Path

from harness.cli import _names_specs, main
from harness.files import write_atomic
from harness.report import html as report
from harness.report.results import merge, strip_timings

ROOT = Path(__file__).resolve().parent.parent


def _finding(**kw):
    f = {"id": "0123456789ab", "api": "x_loss", "framework": "torch", "target": "torch.x", "kind": "function",
         "check": "values", "verdict": "value", "peer_verdict": "value", "doc_verdict": "value", "documented": False,
         "source": None, "why": "", "region": {"values": ["finite"]}, "count": 2, "shrunk": True, "case": {"params": {}},
         "expected": {"value": 1}, "actual": {"error": "E", "message": "<script>alert(1)</script>"},
         "message": "<img src=x onerror=alert(1)>", "metrics": {}, "spec": {"file": "specs/x.yaml", "line": 3}}
    f.update(kw)
    return f


def _part(path, findings, counts=None):
    write_atomic(path, json.dumps({"meta": {}, "frameworks": {"torch": "2.13.0"}, "spec_errors": [],
                                   "targets": [{"api": "x_loss", "title": "X", "framework": "torch", "target": "torch.x",
                                                "kind": "function", "counts": counts or {"values": {"value": 2, "match": 5}},
                                                "calls": 7, "seconds": 0.1, "error": None, "spec": "specs/x.yaml",
                                                "findings": findings}]}))


def test_html_escapes_everything_from_frameworks(tmp_path):
    _part(tmp_path / "main.json", [_finding()])
    merged = merge([tmp_path / "main.json"], {"seed": 1, "max_examples": 5, "seconds": 1.0, "command": "x"})
    report.write_html(merged, tmp_path / "index.html")
    html = (tmp_path / "index.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html
    assert 'id="0123456789ab"' in html and "s-undocumented" in html


def test_merge_orders_and_summarizes_and_skips_a_corrupt_part(tmp_path):
    _part(tmp_path / "a.json", [_finding(id="bbbbbbbbbbbb"), _finding(id="aaaaaaaaaaaa", documented=True)])
    (tmp_path / "b.json").write_text('{"truncated": ')  # a part whose writer was killed mid-write
    merged = merge(sorted(tmp_path.glob("*.json")), {"seed": 1, "max_examples": 5})
    assert [f["id"] for f in merged["findings"]] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert merged["summary"]["undocumented"] == 1 and merged["summary"]["documented"] == 1
    assert "seconds" not in json.dumps(strip_timings(merged))
    table = report.text_table(merged)
    assert "NO" in table.splitlines()[2] and "1 undocumented" in table


def test_check_specs_command(capsys):
    assert main(["check-specs", str(ROOT / "specs")]) == 0
    assert main(["check-specs", str(ROOT / "tests" / "data" / "bad_specs")]) == 2
    out = capsys.readouterr().out
    assert "BAD" in out and "formula_outside_vocabulary.yaml:13" in out


def test_run_adds_the_specs_unless_given_specs(tmp_path):
    existing = tmp_path / "junit.xml"
    existing.write_text("")
    assert not _names_specs(str(existing)), "an existing option value is not a spec selection"
    assert not _names_specs("--junitxml")
    assert _names_specs(str(ROOT / "specs" / "losses" / "l1_loss.yaml"))
    assert _names_specs(str(ROOT / "specs" / "losses" / "l1_loss.yaml") + "::torch.nn.L1Loss::values")
    assert _names_specs(str(ROOT / "specs"))
