"""Gating: baselines, deltas between runs and versions, replayed cases."""
