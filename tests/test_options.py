"""The options check (harness/checks/options.py): a framework-only parameter at its other documented values, run in
the real framework against what its docs say it then computes; and the spec errors of a bad `options:` entry."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks.options import CHECK as OPTIONS
from harness.run.pipeline import Config, SpecRun, TargetRunner
from harness.run.pool import Pool
from harness.spec.model import load_spec
from harness.spec.source import SourceError

from .conftest import need

ROOT = Path(__file__).resolve().parent.parent
SMOOTH = ROOT / "specs" / "losses" / "smooth_l1_loss.yaml"
HUBER = ROOT / "specs" / "losses" / "huber_loss.yaml"


@pytest.fixture(scope="module")
def paddle_pool(pythons, tmp_path_factory):
    need(pythons, "paddle")
    p = Pool({"paddle": pythons["paddle"]}, timeout=120, log_dir=tmp_path_factory.mktemp("logs"))
    yield p
    p.close()


def _verdicts(path: Path, target: str, pool: Pool):
    spec = load_spec(path)
    return OPTIONS.verdicts(TargetRunner(SpecRun(spec, Config()), spec.binding(target), pool))


def test_is_huber_false_is_torchs_smooth_l1_except_at_delta_zero(paddle_pool):
    """The mapping page says is_huber=False computes what torch computes; at delta=0 paddle divides by zero."""
    verdicts = _verdicts(SMOOTH, "paddle.nn.functional.smooth_l1_loss", paddle_pool)
    differ = [v for v in verdicts if not v.is_match]
    assert verdicts and all(v.subject == "is_huber=False" for v in verdicts)
    assert differ and all(v.case is not None and v.case.params["beta"] == 0.0 for v in differ)
    assert all(not v.documented and v.verdict == "value" and "nan" in v.message for v in differ)
    assert any(v.is_match and v.case is not None and v.case.params["beta"] > 0 for v in verdicts)


def test_an_option_with_its_own_formula_is_judged_by_it(paddle_pool):
    """HuberLoss's spec gives is_huber=False paddle's own formula (the Huber loss divided by delta): paddle follows it."""
    verdicts = _verdicts(HUBER, "paddle.nn.SmoothL1Loss", paddle_pool)
    assert len(verdicts) >= 20 and all(v.is_match for v in verdicts)


def test_an_option_naming_a_spec_parameter_names_its_line(tmp_path):
    text = SMOOTH.read_text()
    bad = text.replace("    options:\n      is_huber:", "    options:\n      beta:")
    path = tmp_path / "options.yaml"
    path.write_text(bad)
    with pytest.raises(SourceError) as err:
        load_spec(path)
    assert "'beta'" in str(err.value) and err.value.line == bad.splitlines().index("      beta:") + 1
