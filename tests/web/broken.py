"""A store whose backend is down: every call raises, as a dead Redis would."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django_experiments.engine.stores import Store


class BrokenStore(Store):
    name = "broken"

    def __init__(self, alias: Any = None, prefix: Any = None) -> None:
        pass

    def get(self, experiment: str, key: str, migration_keys: Sequence[str] = ()) -> str | None:
        raise ConnectionError("store down")

    def set(self, experiment: str, key: str, variant: str) -> None:
        raise ConnectionError("store down")

    def migrate(self, moves: Iterable[tuple[str, str, str]]) -> dict[str, str]:
        raise ConnectionError("store down")
