"""A differential conformance harness for deep-learning framework APIs.

Kept import-light: framework workers import `harness.worker` in environments that have only
numpy and their framework.
"""
__version__ = "0.1.0"
