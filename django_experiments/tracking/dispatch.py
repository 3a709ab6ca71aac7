"""Compatibility names: the pipeline now lives in ``producer`` (web side) and ``delivery``
(worker side). Kept so that imports written against earlier releases keep working."""

from __future__ import annotations

from django_experiments.tracking.delivery import backoff, dead_letter, deliver_batch, redrive
from django_experiments.tracking.producer import enqueue, flush_scope, publish, ship
from django_experiments.tracking.producer import hand_over as handoff

__all__ = [
    "backoff",
    "dead_letter",
    "deliver_batch",
    "enqueue",
    "flush_scope",
    "handoff",
    "publish",
    "redrive",
    "ship",
]
