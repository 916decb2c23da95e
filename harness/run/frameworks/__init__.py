"""Framework adapters: everything that knows a framework's tensor type lives here."""
from __future__ import annotations

import importlib

from harness.run.frameworks.base import Adapter

#: framework name -> (module holding its adapter, the importable package it needs)
KNOWN = {"torch": "torch", "mindspore": "mindspore", "paddle": "paddle"}


def adapter_for(name: str) -> Adapter:
    if name.startswith("fake:"):  # fault-injection fixtures of the test suite
        module = importlib.import_module(name[5:])
        return module.Adapter()
    if name not in KNOWN:
        raise ValueError(f"unknown framework {name!r}; known: {sorted(KNOWN)}")
    module = importlib.import_module(f"{__name__}.{name}_adapter")
    return module.Adapter()
