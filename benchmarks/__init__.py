"""Benchmark suite: this project against its peers, with the performance budgets.

Run from the repository root: ``python -m benchmarks`` (``--quick`` for a ~1 minute run).
Results are written to docs/performance.md.
"""
