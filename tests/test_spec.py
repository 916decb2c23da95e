import re
import shutil
from pathlib import Path

import pytest

from harness.spec.model import load_all, load_spec
from harness.spec.source import SourceError

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
BAD = sorted((DATA / "bad_specs").glob("*.yaml"))


def test_real_specs_load():
    result = load_all(ROOT / "specs")
    assert not result.errors, result.errors
    apis = {s.api for s in result.specs}
    assert {"smooth_l1_loss", "cross_entropy", "l1_loss"} <= apis
    targets = {b.target for s in result.specs for b in s.bindings}
    for t in ["torch.nn.SmoothL1Loss", "torch.nn.functional.smooth_l1_loss", "mindspore.nn.SmoothL1Loss",
              "mindspore.ops.smooth_l1_loss", "paddle.nn.SmoothL1Loss", "paddle.nn.functional.smooth_l1_loss",
              "torch.nn.CrossEntropyLoss", "torch.nn.functional.cross_entropy", "mindspore.nn.CrossEntropyLoss",
              "mindspore.ops.cross_entropy", "paddle.nn.CrossEntropyLoss", "paddle.nn.functional.cross_entropy"]:
        assert t in targets


def test_binding_view_merges_framework_and_binding_overrides():
    spec = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")
    ms = spec.binding("mindspore.nn.SmoothL1Loss")
    assert ms.defaults["reduction"] == "none" and ms.name_of("input") == "logits"
    pd = spec.binding("paddle.nn.functional.smooth_l1_loss")
    assert pd.name_of("beta") == "delta" and pd.formula is not None
    torch = spec.binding("torch.nn.SmoothL1Loss")
    assert torch.defaults["reduction"] == "mean" and torch.formula is None


def test_every_binding_names_a_documentation_source():
    for spec in load_all(ROOT / "specs").specs:
        for b in spec.bindings:
            assert b.docs and b.docs.startswith("https://"), b.target


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_spec_gets_one_clear_error(path):
    first = path.read_bytes().split(b"\n", 1)[0].decode()  # not_utf8.yaml is only UTF-8 on its first line
    line, needle = re.match(r"# expect: (\d+): (.*)", first).groups()
    with pytest.raises(SourceError) as err:
        load_spec(path)
    e = err.value
    assert e.file == str(path)
    assert needle.lower() in e.message.lower(), e.message
    assert e.line == int(line), f"reported line {e.line}, expected {line}: {e}"
    assert e.fix, "every error says how to fix it"
    assert f"{path}:{line}" in str(e)


def test_one_bad_spec_does_not_stop_the_others(tmp_path):
    shutil.copy(DATA / "good_minimal.yaml", tmp_path / "good.yaml")
    for p in BAD[:5]:
        shutil.copy(p, tmp_path / p.name)
    result = load_all(tmp_path)
    assert [s.api for s in result.specs] == ["tiny_l1"]
    assert len(result.errors) == 5


def test_duplicate_api_names_are_rejected(tmp_path):
    shutil.copy(DATA / "good_minimal.yaml", tmp_path / "a.yaml")
    shutil.copy(DATA / "good_minimal.yaml", tmp_path / "b.yaml")
    result = load_all(tmp_path)
    assert len(result.specs) == 1
    assert "already defined" in result.errors[0].message and result.errors[0].line == 1


def test_a_claim_about_an_unknown_parameter_names_its_line(tmp_path):
    text = (ROOT / "specs" / "losses" / "smooth_l1_loss.yaml").read_text()
    bad = text.replace("{kind: same, param: beta,", "{kind: same, param: bta,")
    path = tmp_path / "claims.yaml"
    path.write_text(bad)
    with pytest.raises(SourceError) as err:
        load_spec(path)
    assert "bta" in str(err.value) and err.value.line == bad.splitlines().index(
        next(line for line in bad.splitlines() if "param: bta" in line)) + 1


def test_a_plot_input_outside_the_vocabulary_is_rejected(tmp_path):
    text = (ROOT / "specs" / "losses" / "l1_loss.yaml").read_text()
    path = tmp_path / "plot.yaml"
    path.write_text(text.replace('inputs: {input: "d", target: "zeros_like(d)"}', 'inputs: {input: "open(d)", target: "d"}'))
    with pytest.raises(SourceError) as err:
        load_spec(path)
    assert "plots.0.inputs.input" in str(err.value)
