"""Benchmarks, run as scripts (``.venv/bin/python bench/<name>.py``); not installed.

A package only so that mypy names its modules bench.billing, bench.lpr, ... and not billing,
lpr, ..., which would clash with the real packages when both are checked in one run.
"""
