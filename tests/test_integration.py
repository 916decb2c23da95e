"""The real frameworks on a small budget: known behaviour that a broken harness would miss.

Runs each framework in its own worker process (the nox `tests` session passes the framework
environments through HARNESS_WORKERS; elsewhere the frameworks installed here are used).
"""
from pathlib import Path

import pytest

from harness.cases.examples import load_examples
from harness.report.results import strip_timings, target_json
from harness.run.pipeline import Config, SpecRun, TargetRunner
from harness.run.pool import Pool
from harness.spec.model import load_spec

from .conftest import need

ROOT = Path(__file__).resolve().parent.parent
SMOOTH = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")
CE = load_spec(ROOT / "specs" / "losses" / "cross_entropy.yaml")
CONFIG = Config(max_examples=40, shrink_budget=40, cases_dir=ROOT / "cases")


@pytest.fixture(scope="module")
def pool(pythons, tmp_path_factory):
    p = Pool(pythons, timeout=120, log_dir=tmp_path_factory.mktemp("logs"))
    yield p
    p.close()


@pytest.fixture(scope="module")
def smooth_run():
    return SpecRun(SMOOTH, CONFIG)


def _findings(result, check=None):
    return [f for f in result.findings if check is None or f.head.check == check]


def test_torch_smooth_l1_values_match_the_reference(pythons, pool, smooth_run):
    need(pythons, "torch")
    result = TargetRunner(smooth_run, SMOOTH.binding("torch.nn.functional.smooth_l1_loss"), pool).execute()
    assert result.counts["values"].get("match", 0) > 10
    assert not _findings(result, "values"), "torch defines the common semantics: rounding must not produce findings"
    assert result.counts["examples"] == {"match": 1}
    assert result.counts["signature"] == {"match": 1}


def test_mindspore_default_reduction_is_a_documented_difference(pythons, pool, smooth_run):
    need(pythons, "mindspore")
    result = TargetRunner(smooth_run, SMOOTH.binding("mindspore.nn.SmoothL1Loss"), pool).execute()
    defaults = _findings(result, "defaults")
    assert any(f.head.documented and "'none'" in f.head.message for f in defaults)
    assert result.counts["examples"] == {"match": 1}, "the documented example [0, 0, 0.5]"


def test_paddle_smooth_l1_follows_its_own_documented_huber_formula(pythons, pool, smooth_run):
    need(pythons, "paddle")
    result = TargetRunner(smooth_run, SMOOTH.binding("paddle.nn.functional.smooth_l1_loss"), pool).execute()
    values = [f for f in _findings(result, "values") if f.head.verdict == "value"]
    documented = [f for f in values if f.head.documented]
    assert documented and all(f.head.doc == "match" for f in documented), "paddle computes its documented formula"
    # the one undocumented value difference: delta held in float32 for float64 inputs (~1e-9 relative)
    assert all(f.region.get("dtype(input)") == ["float64"] for f in values if not f.head.documented)
    rejected = [f for f in _findings(result, "dtypes") if f.head.documented]
    assert rejected, "paddle documents float32/float64 only and rejects float16"


def test_cross_entropy_doc_example_gives_2_764(pythons, pool):
    need(pythons, "torch")
    run = SpecRun(CE, Config(max_examples=5, shrink_budget=10, cases_dir=ROOT / "cases"))
    assert any(c.expected == 2.764 for c in load_examples(ROOT / "cases", CE))
    result = TargetRunner(run, CE.binding("torch.nn.CrossEntropyLoss"), pool).execute()
    assert result.counts["examples"] == {"match": 1}


def test_same_seed_twice_gives_identical_results(pythons, pool):
    need(pythons, "torch")
    b = SMOOTH.binding("torch.nn.SmoothL1Loss")
    first = target_json(SMOOTH, TargetRunner(SpecRun(SMOOTH, CONFIG), b, pool).execute())
    second = target_json(SMOOTH, TargetRunner(SpecRun(SMOOTH, CONFIG), b, pool).execute())
    assert strip_timings(first) == strip_timings(second)
