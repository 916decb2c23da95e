"""Probes derived from a spec's declarations: what they are, the cases they make, how a spec excludes one."""
import io
from pathlib import Path

import numpy as np
import pytest

from harness.cases import generate
from harness.cases.case import Case, param_in, param_out
from harness.cases.probes import apply, dim_size
from harness.run import wire
from harness.spec import dtypes
from harness.spec.model import load_spec
from harness.spec.source import SourceError

ROOT = Path(__file__).resolve().parent.parent
SMOOTH = load_spec(ROOT / "specs" / "losses" / "smooth_l1_loss.yaml")
CE = load_spec(ROOT / "specs" / "losses" / "cross_entropy.yaml")
MLM = load_spec(ROOT / "specs" / "losses" / "multilabel_margin_loss.yaml")


def _keys(spec):
    return {p.key: p for p in spec.probes}


def test_a_float_parameter_an_enum_and_each_array_get_probes_from_their_declarations():
    keys = _keys(SMOOTH)
    assert {"beta=nan", "beta=inf", "beta=-inf", "beta=-1.0"} <= set(keys)
    assert {"beta=numpy.float32(1.0)", "beta=numpy.float64(1.0)", "beta=1", "beta=True", "beta='1.0'", "beta=None"} <= set(keys)
    assert {"reduction='bogus'", "reduction=''", "reduction='MEAN'", "reduction=1", "reduction=None"} <= set(keys)
    assert {"input as int64", "input as bool", "target as uint8", "target in another float dtype"} <= set(keys)
    assert {"target mismatched", "target extra_dim", "target trailing_one"} <= set(keys)
    assert "input mismatched" not in keys  # the first input's shape is what the others are compared with
    assert keys["beta=nan"].group == "nonfinite" and keys["beta=-1.0"].feature == "beta:range"


def test_class_indices_get_the_class_count_one_more_and_a_negative_index_other_than_the_ignored_one():
    keys = _keys(CE)
    assert {"target filled with C", "target filled with C + 1", "target filled with a negative index"} <= set(keys)
    assert {"weight filled with 0.0", "weight filled with -1.0", "weight filled with inf", "target filled with 0.7"} <= set(keys)
    assert "target as float32" in keys  # the indices variant does not declare it (the probabilities variant does)
    bases = [c for c in generate.draw(generate.valid_cases(CE), 60, seed=2) if c.variant == "indices"
             and c.arrays["target"].size]
    for base in bases[:10]:
        c = apply(keys["target filled with a negative index"], base, CE)
        assert c is not None and (c.arrays["target"] < 0).all() and (c.arrays["target"] != c.params["ignore_index"]).all()
        equal = apply(keys["target filled with C"], base, CE)
        assert equal is not None and (equal.arrays["target"] == base.arrays["input"].shape[1]).all()
        assert apply(keys["target as float32"], base, CE) is not None
    probs = next(c for c in generate.draw(generate.valid_cases(CE), 60, seed=2) if c.variant == "probabilities")
    assert apply(keys["target filled with C"], probs, CE) is None  # probabilities are no indices
    assert apply(keys["target as float32"], probs, CE) is None or dtypes.name(probs.arrays["target"]) != "float32"


def test_a_dim_after_variadic_dims_is_read_from_the_end():
    base = Case(MLM.api, {"input": np.zeros((2, 3, 4), np.float32), "target": np.zeros((2, 3, 4), np.int64)},
                {"reduction": "mean"})
    assert dim_size(MLM, base, "C") == 4


def test_each_probe_breaks_exactly_its_subject_and_says_so():
    for spec in (SMOOTH, CE):
        cases = generate.sweep(spec, 11)
        assert len(cases) == len(spec.probes)  # every probe applies to some drawn case
        for case in cases:
            assert case.origin == "invalid" and case.note and case.probe
            subject = case.probe.split(":")[0]
            assert subject in case.params or subject in case.arrays
        assert generate.sweep(spec, 11)[0].fingerprint() == cases[0].fingerprint()  # the same seed, the same cases


def test_a_mixed_dtype_probe_keeps_the_values_and_changes_only_the_dtype():
    base = Case(SMOOTH.api, {"input": np.float32([1.5, 2]), "target": np.float32([0.25, 3])}, {"reduction": "sum", "beta": 1.0})
    c = apply(_keys(SMOOTH)["target in another float dtype"], base, SMOOTH)
    assert c is not None and c.arrays["target"].dtype == np.float64 and c.arrays["input"].dtype == np.float32
    np.testing.assert_array_equal(c.arrays["target"], [0.25, 3])
    trailing = apply(_keys(SMOOTH)["target trailing_one"], base, SMOOTH)
    assert trailing is not None and trailing.arrays["target"].shape == (1,)
    assert generate.valid_form(trailing).arrays["target"].shape == (2,)  # peers are asked its valid form too
    empty = base.with_(arrays={"input": np.zeros((2, 0), np.float32), "target": np.zeros((2, 0), np.float32)})
    assert apply(_keys(SMOOTH)["target trailing_one"], empty, SMOOTH) is None  # (2, 0) -> (2, 0) would break nothing


def test_numpy_scalars_cross_the_pipe_and_case_files_as_numpy_scalars():
    for v in (np.float32(0.5), np.float64(2.0), np.int64(-100)):
        stream = io.BytesIO()
        wire.send(stream, {"beta": wire.encode_scalar(v)})
        stream.seek(0)
        back = wire.decode_value(wire.receive(stream)["beta"])
        assert type(back) is type(v) and back == v
        again = param_in(param_out(v))
        assert type(again) is type(v) and again == v
    assert np.isnan(param_in(param_out(float("nan")))) and param_in(param_out(float("-inf"))) == float("-inf")
    assert wire.encode_scalar(1.5) == 1.5 and param_out("MEAN") == "MEAN"


def test_exclude_probes_names_a_group_or_a_key_and_an_unknown_name_is_an_error_with_its_line(tmp_path):
    text = (ROOT / "specs" / "losses" / "smooth_l1_loss.yaml").read_text()
    good = tmp_path / "good.yaml"
    good.write_text(text + "\nexclude_probes: [dtype, \"beta=nan\"]\n")
    keys = _keys(load_spec(good))
    assert "beta=nan" not in keys and not any(p.group == "dtype" for p in keys.values()) and "beta=inf" in keys
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "\nexclude_probes: [beta=nan, dtypes]\n")
    with pytest.raises(SourceError) as err:
        load_spec(bad)
    assert "'dtypes'" in str(err.value) and str(text.count("\n") + 2) in str(err.value)


def test_a_case_file_without_its_probe_gets_it_from_the_note():
    from harness.cases.probes import feature_of

    assert feature_of(SMOOTH, "reduction='MEAN'") == "reduction:enum"
    assert feature_of(SMOOTH, "target shape (2, 3) -> (2, 4)") == "target:shape"
    assert feature_of(SMOOTH, "target with an extra dim") == "target:shape"
    assert feature_of(SMOOTH, "something else") == ""
