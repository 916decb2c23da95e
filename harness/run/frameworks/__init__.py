"""Framework adapters: everything that knows a framework's tensor type lives here."""
from __future__ import annotations

import importlib

from harness.run.frameworks import registry
from harness.run.frameworks.base import Adapter


def adapter_for(name: str) -> Adapter:
    if name.startswith("fake:"):  # fault-injection fixtures of the test suite
        module = importlib.import_module(name[5:])
        return module.Adapter()
    module = importlib.import_module(registry.get(name).adapter)
    return module.Adapter()
