"""The spec's unbatched form (`unbatched:`): cases drawn without the batch dim, judged by the batched formula with a
batch of one. No framework runs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.cases import generate
from harness.judge.reference import evaluate
from harness.run.pipeline import Config, SpecRun
from harness.spec.model import load_spec
from harness.spec.source import SourceError

SPECS = Path(__file__).resolve().parent.parent / "specs" / "losses"


@pytest.fixture(scope="module")
def cross_entropy_run() -> SpecRun:
    return SpecRun(load_spec(SPECS / "cross_entropy.yaml"), Config())


def test_unbatched_cases_drop_the_batch_axis_and_conditions_see_it_back(cross_entropy_run):
    flat = [c for c in cross_entropy_run.cases if c.unbatched]
    assert flat, "the core has unbatched cases"
    for case in flat:
        x = case.arrays["input"]
        assert x is not None and x.ndim == 1  # (C): the spec's `when` keeps the K-dimensional form out
        if case.variant == "indices":
            assert case.arrays["target"].ndim == 0  # type: ignore[union-attr]
        env = case.env()
        assert env["unbatched"] is True and env["input"].shape == (1,) + x.shape


def test_the_reference_is_the_batched_formula_without_the_batch_axis(cross_entropy_run):
    spec = cross_entropy_run.spec
    case = next(c for c in cross_entropy_run.cases if c.unbatched and c.params["reduction"] == "none")
    batched = case.with_(arrays={k: (None if a is None else np.expand_dims(a, dict(case.unbatched)[k]) if k in dict(case.unbatched)
                                     else a) for k, a in case.arrays.items()}, unbatched=())
    flat, full = evaluate(spec.formula, case).value, evaluate(spec.formula, batched).value
    assert flat is not None and full is not None and flat.shape == () and full.shape == (1,)
    assert float(flat) == float(full[0])


def test_a_ctc_unbatched_case_has_unpadded_targets():
    run = SpecRun(load_spec(SPECS / "ctc_loss.yaml"), Config())
    flat = [c for c in run.cases if c.unbatched]
    assert flat
    for case in flat:
        assert case.arrays["log_probs"].ndim == 2 and case.arrays["input_lengths"].ndim == 0  # type: ignore[union-attr]
        assert case.arrays["targets"].shape == (int(case.arrays["target_lengths"]),)  # type: ignore[union-attr,arg-type]


def test_a_spec_without_the_form_draws_none():
    spec = load_spec(SPECS / "smooth_l1_loss.yaml")
    assert generate.unbatched(spec, SpecRun(spec, Config()).cases) == []


def test_an_unbatched_dim_that_is_no_dim_names_its_line(tmp_path):
    text = (SPECS / "nll_loss.yaml").read_text()
    bad = text.replace("unbatched:   # the documented form without the batch dim (formula and conditions see it with a "
                       "batch of 1)\n  dim: N", "unbatched:\n  dim: B")
    path = tmp_path / "unbatched.yaml"
    path.write_text(bad)
    with pytest.raises(SourceError) as err:
        load_spec(path)
    assert "'B'" in str(err.value) and err.value.line == bad.splitlines().index("  dim: B") + 1
