"""Connect the engine's hooks to the layers above it (called once from ``ready()``).

The engine (``django_experiments.engine``) decides variants and imports nothing from the
database layer, tracking or the web shell; everything it needs from them arrives here.
"""

from __future__ import annotations

from django_experiments.conf import settings
from django_experiments.engine.hooks import hooks


def _on_unknown(name: str) -> None:
    if settings.AUTO_CREATE_UNKNOWN:
        from django_experiments.services import create_draft

        create_draft(name)


def connect() -> None:
    from django_experiments import login  # noqa: F401 - connects the login migration
    from django_experiments.loader import load_from_db, uncommitted_change
    from django_experiments.results import rollup
    from django_experiments.tracking import producer, sinks, tasks  # noqa: F401 - registers tasks

    hooks.load_definitions = load_from_db
    hooks.on_event = producer.on_event
    hooks.on_unknown = _on_unknown
    hooks.uncommitted_change = uncommitted_change
    # The database sink keeps the results rollups in the same transaction as its inserts.
    sinks.rollups = rollup
