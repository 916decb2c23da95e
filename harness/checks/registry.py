"""The registry of checks: every module in `harness/checks/` that defines `CHECK` is one.

Every list of checks elsewhere (pytest items, the report's matrix, finding partitions, which
findings are probed or shrunk, the difference table, spec validation) is derived from here.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import TYPE_CHECKING, get_args

from harness.checks.base import CaseCheck, Check, CheckName

if TYPE_CHECKING:
    from harness.judge.verdicts import CaseContext

_NOT_CHECKS = {"base", "registry"}


@lru_cache(maxsize=1)
def _registered() -> tuple[Check, ...]:
    import harness.checks as package

    found: list[Check] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in _NOT_CHECKS:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        check = getattr(module, "CHECK", None)
        if isinstance(check, Check):
            found.append(check)
    names = [c.name for c in found]
    if sorted(names) != sorted(get_args(CheckName)):
        raise RuntimeError(f"registered checks {sorted(names)} differ from CheckName {sorted(get_args(CheckName))}: "
                           "a new check module defines CHECK and adds its name to CheckName in harness/checks/base.py")
    return tuple(sorted(found, key=lambda c: c.order))


def in_run_order() -> tuple[Check, ...]:
    """Checks in the order they run on a binding."""
    return _registered()


def names() -> tuple[str, ...]:
    """Check names in report order (the matrix columns and a binding's pytest items)."""
    return tuple(c.name for c in sorted(_registered(), key=lambda c: c.column))


def get(name: str) -> Check:
    for c in _registered():
        if c.name == name:
            return c
    raise KeyError(f"unknown check {name!r}; known: {', '.join(names())}")


def find(name: str) -> Check | None:
    return next((c for c in _registered() if c.name == name), None)


def case_checks() -> tuple[CaseCheck, ...]:
    """The checks that share one call per case, in the order they claim cases."""
    return tuple(c for c in _registered() if isinstance(c, CaseCheck))


def owner(ctx: CaseContext) -> CaseCheck:
    """The case check that judges a case: the first, in run order, that owns it (the last owns every case)."""
    return next(c for c in case_checks() if c.owns(ctx))


def partition(name: str) -> tuple[str, ...]:
    """Features that split a check's findings (an unknown check: its variant only)."""
    c = find(name)
    return c.partition if c is not None else ("variant",)


def table_rows() -> list[Check]:
    """Checks with a row in the API-difference table, in row order."""
    return sorted((c for c in _registered() if c.table is not None), key=lambda c: c.table.position)  # type: ignore[union-attr]
