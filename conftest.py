"""Specs under specs/ are collected as conformance test items by the harness plugin."""
pytest_plugins = ["harness.plugin"]
