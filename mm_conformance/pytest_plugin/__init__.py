"""The pytest plugin: run options, scheduling, fixtures support, the per-implementation fan-out, outcome classification.

The only part of the package that touches pytest or pytest-bdd.
"""
