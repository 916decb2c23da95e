"""API-difference tables: every row of the seed "differences from PyTorch" pages is there and checked."""
import json
from pathlib import Path

import pytest

from harness.report import mathml, plots
from harness.report import tables as apitable
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent

# The rows of MindSpore's pages comparing with PyTorch (shared/seeds: SmoothL1Loss r2.1, CrossEntropyLoss r2.0),
# as (PyTorch name, MindSpore name); None where the page writes "-".
SEED_ROWS = {
    "smooth_l1_loss": [("size_average", None), ("reduce", None), ("reduction", "reduction"), ("beta", "beta"),
                       ("input", "logits"), ("target", "labels")],
    "cross_entropy": [("weight", "weight"), ("size_average", None), ("ignore_index", "ignore_index"), ("reduce", None),
                      ("reduction", "reduction"), (None, "label_smoothing"), ("input", "logits"), ("target", "labels")],
}
MS_CLASS = {"smooth_l1_loss": "mindspore.nn.SmoothL1Loss", "cross_entropy": "mindspore.nn.CrossEntropyLoss"}


@pytest.fixture(scope="module")
def tables(conformance_report):
    report = json.loads((conformance_report / "report.json").read_text())
    return report, {t["api"]: t for t in apitable.tables(report)}


def _names(cell):
    return [text.split("=")[0] for text, _ in cell["lines"]] if cell and cell["status"] != "missing" else []


@pytest.mark.parametrize("api", sorted(SEED_ROWS))
def test_every_seed_row_is_a_checked_row(tables, api):
    _, by_api = tables
    table = by_api[api]
    for torch_name, ms_name in SEED_ROWS[api]:
        row = next((r for r in table["rows"] if r["name"] in (torch_name, ms_name) and r["kind"] != "behaviour"), None)
        assert row is not None, f"{api}: no row for {torch_name}/{ms_name}"
        if torch_name is not None:  # a "-" for PyTorch is the page's claim about PyTorch 1.8.1: checked below
            assert torch_name in _names(row["cells"]["torch"]), (api, row["name"], row["cells"]["torch"])
        assert (ms_name or "—") in _names(row["cells"]["mindspore"]), (api, row["name"], row["cells"]["mindspore"])
        claims = [c for c in row["claims"] if c["target"] == MS_CLASS[api]]
        assert claims, f"{api}: the page's row {torch_name}/{ms_name} is not encoded as a claim"
        assert all(c["status"] in ("confirmed", "contradicted") for c in claims), claims


def test_claims_are_checked_against_what_ran(tables):
    report, by_api = tables
    claims = {(t["api"], r["name"]): c for t in by_api.values() for r in t["rows"] for c in r["claims"]}
    # the page compares with PyTorch 1.8.1; the installed PyTorch has label_smoothing, so "MindSpore only" is contradicted
    only = claims[("cross_entropy", "label_smoothing")]
    assert only["status"] == "contradicted" and "torch.nn.CrossEntropyLoss" in only["reasons"][0]
    for api in ("smooth_l1_loss", "cross_entropy"):
        for name in ("size_average", "reduce"):
            assert claims[(api, name)]["status"] == "confirmed", claims[(api, name)]
    default = claims[("smooth_l1_loss", "reduction")]
    assert "'none'" in " ".join(default["reasons"]) or default["status"] == "contradicted"
    ids = {f["id"] for f in report["findings"]}
    for c in claims.values():
        assert set(c["findings"]) <= ids, "every linked finding exists"
        if c["status"] == "contradicted" and c["kind"] not in ("only", "absent", "name", "default", "same"):
            assert c["findings"]


def test_markdown_tables_are_written_with_links(conformance_report):
    md = (conformance_report / "differences" / "smooth_l1_loss.md").read_text()
    assert md.startswith("# SmoothL1Loss") and "| framework-only parameter | size_average |" in md
    assert "✔ confirmed" in md and "](../index.html#" in md
    report = json.loads((conformance_report / "report.json").read_text())
    assert {p.stem for p in (conformance_report / "differences").glob("*.md")} == set(report["apis"])


def test_plot_data_shows_a_different_formula_behind_the_same_name(conformance_report):
    report = json.loads((conformance_report / "report.json").read_text())
    ref = report["apis"]["smooth_l1_loss"]["plots"][0]["panels"][0]  # beta = 0.5
    by_target = {t["target"]: t["plots"][0]["panels"][0] for t in report["targets"] if t["api"] == "smooth_l1_loss"}
    torch_curve = by_target["torch.nn.functional.smooth_l1_loss"]["values"]
    paddle_curve = by_target["paddle.nn.functional.smooth_l1_loss"]["values"]
    assert max(abs(a - b) for a, b in zip(torch_curve, ref["reference"])) < 1e-6
    assert max(abs(a - b) for a, b in zip(paddle_curve, ref["reference"])) > 0.5, "paddle's Huber form is delta times smaller"
    assert max(abs(a - b) for a, b in zip(paddle_curve, ref["own"]["paddle"])) < 1e-6
    errors = [t["plots"][1]["panels"][0]["errors"] for t in report["targets"] if t["api"] == "smooth_l1_loss"]
    assert all(len(e) == 6 for e in errors) and any(v is not None for e in errors for v in e)
    rendered = plots.render(report["apis"]["smooth_l1_loss"], [t for t in report["targets"] if t["api"] == "smooth_l1_loss"])
    assert len(rendered) == 2 and all(p["svg"].startswith("<svg") for p in rendered)


def test_formula_renders_as_mathml():
    spec = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")
    m = mathml.formula(spec.model.formula)
    assert m.startswith('<math display="block"') and "<mfrac>" in m and "<msup>" in m and "β" in m
    assert "<mo>{</mo>" in m, "where() is drawn as cases"
    assert "&lt;" in mathml.formula("result = where(x < 1, 'a<b', x)") and "<b" not in mathml.formula("result = 'a<b'")


def test_api_json_describes_bindings_and_claims():
    spec = load_spec(ROOT / "specs" / "losses" / "cross_entropy.yaml")
    api = apitable.api_json(spec, ROOT, 1)
    ms = {b["target"]: b for b in api["frameworks"]["mindspore"]["bindings"]}
    assert ms["mindspore.nn.CrossEntropyLoss"]["names"]["input"] == "logits"
    assert any(c["kind"] == "only" and c["param"] == "label_smoothing" for c in ms["mindspore.nn.CrossEntropyLoss"]["claims"])
    assert api["plots"][0]["panels"][0]["reference"] and api["file"] == "specs/losses/cross_entropy.yaml"
