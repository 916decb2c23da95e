"""Checks: one registered module per check."""
