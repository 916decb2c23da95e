"""Specs: YAML source with line numbers, the spec models, the formula language and its vocabulary, dtypes."""
