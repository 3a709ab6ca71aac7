"""Hand buffered events to Celery (placeholder: the tracking pipeline issue fills this in)."""

from __future__ import annotations

from typing import Any

from django_experiments.engine.scope import Scope


def flush_scope(scope: Scope) -> None:
    """Called by the middleware once per request, after the response is built."""
    if scope.events:
        ship(scope.events)
        scope.events = []


def ship(events: list[dict[str, Any]]) -> None:
    from django_experiments.tracking.sinks import LoggingSink

    LoggingSink().send(events)
