"""Keep experiment classes defined in a test from leaking into the next one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django_experiments.engine import registry
from django_experiments.engine.experiment import Experiment


@contextmanager
def isolated_registry() -> Iterator[dict[str, type[Experiment]]]:
    """Classes registered inside the block are unregistered after it (and replaced ones
    restored); yields the live registry for inspection."""
    saved = dict(registry._registry)
    try:
        yield registry._registry
    finally:
        registry.replace_all(saved)
