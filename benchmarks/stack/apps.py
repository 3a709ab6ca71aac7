from __future__ import annotations

from django.apps import AppConfig


class StackConfig(AppConfig):
    """The full-stack benchmark's own table, for the realistic page's queries."""

    name = "benchmarks.stack"
    label = "bench_stack"
    default_auto_field = "django.db.models.BigAutoField"
