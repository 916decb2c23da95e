"""Names the spec language shares with the pipeline: the checks a spec's `known_differences` may name.

The check registry (`harness/checks/registry.py`) refuses to start unless its modules register exactly
these names, so the type and the registered units cannot drift apart.
"""
from __future__ import annotations

from typing import Literal

CheckName = Literal["signature", "defaults", "values", "dtypes", "raises", "examples", "gradients", "positional", "options",
                    "naive-port", "warnings", "precision-growth", "stale-error"]

INTERFACE: frozenset[CheckName] = frozenset({"signature", "defaults", "positional", "naive-port"})
"""The checks whose findings are about how a binding is called (names, order, defaults), whatever their verdict:
class `interface` (judge/classes.py), diagnosed by their subject (judge/diagnose.py)."""
