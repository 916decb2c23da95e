"""Reporting: report.json, HTML, reproducer scripts, difference tables, plots."""
