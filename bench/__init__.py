"""Benchmarks, run by hand: ``python -m bench [SUITE ...] [--quick]`` (see bench/__main__.py)."""
