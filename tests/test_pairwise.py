"""Pairwise coverage (harness/cases/pairwise.py) on the real specs: the features a spec's declarations give, and a
top-up that meets every pair a valid case can meet, even from core cases that meet few. No framework runs."""
from __future__ import annotations

from pathlib import Path

from harness.cases import generate, pairwise
from harness.judge.verdicts import matching_rules
from harness.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
CE = load_spec(ROOT / "specs" / "losses" / "cross_entropy.yaml")


def _valid(c: object) -> bool:
    return not matching_rules(CE.raises, c)  # type: ignore[arg-type]


def test_the_features_come_from_the_declarations() -> None:
    names = [f.name for f in pairwise.features(CE)]
    assert names == ["weight", "reduction", "variant", "dtype(input)", "dtype(target)", "shape(input)",
                     "target holds ignore_index"]


def test_a_top_up_meets_every_demanded_pair_that_a_few_core_cases_miss() -> None:
    pool = generate.draw(generate.valid_cases(CE, elementwise=0), 200, 1)
    feats = pairwise.features(CE)
    wanted = pairwise.demanded(feats, pool, _valid)
    have = pool[:3]
    assert wanted - set().union(*(pairwise.met(feats, c) for c in have))  # three cases meet few pairs
    added = pairwise.top_up(feats, wanted, have, pool, _valid)
    assert 0 < len(added) <= pairwise.MAX_ADDED and all(_valid(c) for c in added)
    report = pairwise.reached(CE, have + added, wanted)
    assert report["missed"] == [] and report["reached"] == len(wanted)
    assert any(("target holds ignore_index", "yes") in pair[0:2] for c in added for pair in pairwise.met(feats, c))


def test_a_pair_no_case_meets_is_named() -> None:
    feats = pairwise.features(CE)
    pool = generate.draw(generate.valid_cases(CE, elementwise=0), 50, 2)
    wanted = pairwise.demanded(feats, pool, _valid)
    report = pairwise.reached(CE, pool[:1], wanted)
    assert report["reached"] < report["demanded"] and len(report["missed"]) == report["demanded"] - report["reached"]
    assert all(" & " in m for m in report["missed"])
