"""Tracking: event schema, buffering, Celery shipping, sinks, outbox and dead letters.

``django_experiments.tracking.flush()`` is the flush point outside requests: it ships every
event tracked in this process outside a scope (shell, scripts, management commands).
"""

from __future__ import annotations


def flush() -> int:
    """Ship the process buffer through Celery (after the current transaction commits).

    Returns the number of events handed over.
    """
    from django_experiments.tracking.dispatch import flush as _flush

    return _flush()


__all__ = ["flush"]
