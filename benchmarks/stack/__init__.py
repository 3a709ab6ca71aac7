"""Benchmark-only Django project layered on example_project (settings, urls, views)."""
