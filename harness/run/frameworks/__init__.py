"""Framework adapters: everything that knows a framework's tensor type lives here.

Import-light: the registry is plain data that every layer reads (spec validation included), so
importing this package must not import numpy or an adapter.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from harness.run.frameworks import registry

if TYPE_CHECKING:
    from harness.run.frameworks.base import Adapter


def adapter_for(name: str) -> Adapter:
    """The adapter of a registered framework, or of a `fake:MODULE` fault-injection fixture."""
    if name.startswith("fake:"):  # fault-injection fixtures of the test suite
        module = importlib.import_module(name[5:])
        return module.Adapter()
    module = importlib.import_module(registry.get(name).adapter)
    return module.Adapter()
