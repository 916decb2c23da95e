"""Everything external in the HTML report is escaped, whatever the template does with it.

Tested through report.write_html, the public function: every string that comes from a spec, a
framework or the command line is replaced by markup that would run if it reached the page raw.
"""
from __future__ import annotations

import json
import re

from harness.files import write_atomic
from harness.report import html as report
from harness.report.results import merge

ATTACK = '<script>alert({n})</script><img src=x onerror=alert({n})>"\'&<!--'
KNOWN = {"api", "framework", "target", "kind", "check", "verdict", "peer_verdict", "doc_verdict", "id", "documented",
         "count", "shrunk", "line", "calls", "seconds", "schema", "seed", "max_examples", "started"}


def _poison(value, counter, key=""):
    """Every free-text string (messages, values, sources, notes, paths) becomes an attack."""
    if isinstance(value, dict):
        return {k: _poison(v, counter, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v, counter, key) for v in value]
    if isinstance(value, str) and key not in KNOWN:
        counter[0] += 1
        return ATTACK.format(n=counter[0])
    return value


def _report(tmp_path):
    finding = {"id": "0123456789ab", "api": "x_loss", "framework": "torch", "target": "torch.x", "kind": "function",
               "check": "values", "verdict": "nondeterministic", "peer_verdict": "nondeterministic",
               "doc_verdict": "nondeterministic", "documented": False, "source": "https://docs", "why": "why",
               "region": {"values": ["finite"], "dtype(input)": ["float32"]}, "count": 2, "shrunk": False,
               "case": {"params": {"reduction": "mean"}, "inputs": {"input": {"dtype": "float32", "shape": [2],
                                                                              "values": [1.0, 2.0]}},
                        "origin": "generated", "note": "note", "variant": None, "omitted": []},
               "expected": {"first run": {"value": {"dtype": "float32", "values": [1.0]}}},
               "actual": {"same worker": {"error": "E", "message": "m", "kind": None}},
               "message": "re-run in the same worker: ...", "metrics": {"max_abs": 1.0},
               "spec": {"file": "specs/x.yaml", "line": 3}}
    part = {"meta": {"command": "harness run"}, "frameworks": {"torch": "2.13.0"},
            "spec_errors": [{"file": "specs/bad.yaml", "line": 4, "message": "unknown key", "fix": "remove it"}],
            "missing": [{"api": "x_loss", "title": "X", "framework": "paddle", "source": "https://list", "note": "n",
                         "spec": {"file": "specs/x.yaml", "line": 9}}],
            "targets": [{"api": "x_loss", "title": "X loss", "framework": "torch", "target": "torch.x",
                         "kind": "function", "counts": {"values": {"nondeterministic": 2, "match": 5}}, "calls": 7,
                         "seconds": 0.1, "error": "worker could not start", "spec": "specs/x.yaml",
                         "findings": [finding]}]}
    counter = [0]
    part = _poison(part, counter)
    part["frameworks"] = {"torch": ATTACK.format(n=0)}  # a version string is the framework's own text
    write_atomic(tmp_path / "main.json", json.dumps(part))
    merged = merge([tmp_path / "main.json"], {"seed": 1, "max_examples": 5, "seconds": 1.0,
                                              "command": ATTACK.format(n=-1), "missing_frameworks": []})
    return merged, counter[0]


def test_no_external_string_reaches_the_page_unescaped(tmp_path):
    merged, planted = _report(tmp_path)
    assert planted > 15
    report.write_html(merged, tmp_path / "index.html")
    html = (tmp_path / "index.html").read_text()
    assert not re.search(r"<script>alert|<img src=x|onerror=alert\(\d+\)>|<!--\"", html)
    assert "&lt;script&gt;alert(" in html
    # whatever the page holds of the attacks, only in escaped form
    assert html.count("<script") == html.count("</script>") == len(re.findall(r"<script(?:\s[^>]*)?>(?!alert)", html))
