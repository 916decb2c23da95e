"""Finding classes: what kind of misbehaviour a finding is, which sets its severity and its gate policy.

Why a class: a maintainer acts differently on a segfault, a wrong formula and a parameter stored in
float32; the report gives each its own place and the gate can be told which ones fail a run. The
class is decided from the head verdict, its check, whether a doc decides it (`silent`) and what the
diagnosis found (a precision hypothesis that held, memory read on empty input): never from a
framework's name.
"""
from __future__ import annotations

from typing import Literal, get_args

from harness.judge.peers import CONVENTIONS, DTYPES
from harness.spec.names import INTERFACE

ClassName = Literal["crash-memory", "wrong-value", "nondeterministic", "error", "interface", "dtype", "precision",
                    "convention"]
CLASSES: tuple[str, ...] = get_args(ClassName)
"""Every class, most severe first: the order causes are listed in."""

DESCRIPTIONS: dict[str, str] = {
    "crash-memory": "crash and memory safety: segfault, abort, hang, allocation failure, uninitialised memory",
    "wrong-value": "silent wrong value: another formula than the documented one",
    "nondeterministic": "the same call gives different results when run again",
    "error": "error behaviour: raises where it should compute, computes where its docs say it raises, another exception, "
             "a warning its peers do not raise",
    "interface": "interface: signature, parameter names, defaults, positional order, framework-only arguments",
    "dtype": "dtype support: a documented dtype fails, an undocumented one is accepted, another output dtype",
    "precision": "precision: the documented formula evaluated in a lower precision",
    "convention": "convention: no doc decides (non-finite inputs, subgradients, overflow) and its peers disagree",
}

UNSTABLE = frozenset({"crash", "timeout", "memory"})
ERRORS = frozenset({"missing-error", "unexpected-error", "wrong-error"})


def severity(name: str) -> int:
    """0 for the most severe class; an unknown class (a newer report) sorts last."""
    return CLASSES.index(name) if name in CLASSES else len(CLASSES)


def classify(verdict: str, check: str, silent: str = "", implied: str | None = None) -> ClassName:
    """The one class of a finding, from its head verdict and check; `implied` is the class a diagnosis
    hypothesis that held stands for (e.g. precision for "computed in float32"), `silent` why no doc decides.

    Order matters: a crash is a crash whatever the check; memory read on empty input outranks the
    `nondeterministic` or `defaults` verdict it showed up as; a discrepancy no doc decides is a
    convention unless it is one of those."""
    if verdict in UNSTABLE or implied == "crash-memory":
        return "crash-memory"
    if verdict == "nondeterministic":
        return "nondeterministic"
    if silent in CONVENTIONS or verdict == "subgradient":  # a subgradient verdict is a kink no doc covers
        return "convention"
    if check in INTERFACE:
        return "interface"
    if check == "dtypes" or verdict == "dtype" or silent == DTYPES:
        return "dtype"
    if verdict in ERRORS or verdict in ("warning", "stale-error"):  # how a call reports trouble: raising (on the call
        # that caused it, or a later one), or warning and going on
        return "error"
    if implied == "precision":
        return "precision"
    return "wrong-value"


def parse_selection(text: str) -> frozenset[str]:
    """A comma-separated list of class names (`all` for every class), for the gate's `--classes`."""
    names = {t.strip() for t in text.split(",") if t.strip()}
    if "all" in names:
        return frozenset(CLASSES)
    unknown = sorted(names - set(CLASSES))
    if unknown:
        raise ValueError(f"unknown finding class(es) {unknown}; known: {', '.join(CLASSES)}")
    return frozenset(names)
