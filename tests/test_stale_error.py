"""The stale-error check (harness/checks/stale_error.py) against the real MindSpore: unsynchronized, as by default, a
call that raises when synchronized returns, and the next valid call raises its error; torch is synchronous."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks.stale_error import CHECK as STALE
from harness.judge import pairs
from harness.run.pipeline import Config, SpecRun, TargetRunner
from harness.run.pool import Pool
from harness.spec.model import load_spec

from .conftest import need

SMOOTH = load_spec(Path(__file__).resolve().parent.parent / "specs" / "losses" / "smooth_l1_loss.yaml")


@pytest.fixture(scope="module")
def pool(pythons, tmp_path_factory):
    need(pythons, "mindspore", "torch")
    p = Pool({k: pythons[k] for k in ("mindspore", "torch")}, timeout=120, log_dir=tmp_path_factory.mktemp("logs"))
    yield p
    p.close()


def _runner(target: str, pool: Pool) -> TargetRunner:
    """A runner whose first pass saw one case raise (beta=0: MindSpore documents a RuntimeError) and the rest compute."""
    runner = TargetRunner(SpecRun(SMOOTH, Config()), SMOOTH.binding(target), pool)
    valid = [c for c in pairs.valid_core(runner) if c.size and c.params.get("beta", 1.0) > 0 and not c.nonfinite]
    bad = valid[0].with_(params={**valid[0].params, "beta": 0.0})
    runner.returned = {c.fingerprint() for c in valid}
    runner.raised = [(bad, "RuntimeError")]
    return runner


def test_mindspores_default_launch_charges_an_error_to_the_next_valid_call(pool):
    verdicts = STALE.verdicts(_runner("mindspore.ops.smooth_l1_loss", pool))
    assert [v.verdict for v in verdicts] == ["stale-error"]
    v = verdicts[0]
    assert v.documented and "launch_blocking" in (v.source or "") and v.case is not None and v.case.params["beta"] == 0.0
    assert "the next call, valid" in v.message and "beta" in v.message


def test_a_synchronous_framework_is_not_tried(pool):
    runner = _runner("torch.nn.functional.smooth_l1_loss", pool)
    assert STALE.verdicts(runner) == [] and "to its end" in (STALE.empty_note(runner) or "")
