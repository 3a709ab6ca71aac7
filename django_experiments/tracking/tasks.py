"""Celery tasks of the tracking pipeline (``shared_task``: the host project owns the app).

``deliver`` sends one batch to the sinks; ``drain_outbox`` re-publishes outbox batches and
moves the "redis" hand-off's list to the broker (run it from Celery beat, see
docs/tracking.md). Events tracked inside a task are handed over when
they are tracked (after the task's transaction commits), so nothing waits for the task's end.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from django_experiments.tracking import redis_handoff
from django_experiments.tracking.delivery import deliver_batch
from django_experiments.tracking.outbox import drain, drain_redis


@shared_task(
    name="django_experiments.tracking.deliver",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def deliver(
    events: list[dict[str, Any]],
    sinks: list[str] | None = None,
    attempt: int = 1,
    dead_letter_id: int | None = None,
) -> dict[str, str]:
    """Send one batch to each sink; failures are retried per sink (see delivery.deliver_batch).

    ``acks_late``: a worker that dies mid-delivery leaves the message to be redelivered, which
    at-least-once delivery wants; sinks dedupe on event ids. ``reject_on_worker_lost``: when
    only a prefork pool process dies (SIGKILL, the OOM killer), Celery would otherwise
    acknowledge the message and the batch would be lost; it is requeued instead.
    """
    return deliver_batch(events, sinks, attempt, dead_letter_id)


@shared_task(name="django_experiments.tracking.drain_outbox", ignore_result=True)
def drain_outbox(limit: int = 1000) -> int:
    """Re-publish due outbox batches and, with the "redis" hand-off, move its list to the
    broker; returns how many batches left the outbox."""
    if redis_handoff.configured():
        drain_redis()
    return drain(limit).drained
