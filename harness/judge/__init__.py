"""Judging: the reference, tolerance, verdicts on two axes, stability re-runs, findings, regions, coverage."""
