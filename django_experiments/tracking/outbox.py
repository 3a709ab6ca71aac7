"""The durable outbox: batches the broker could not take, drained back into Celery later.

Rows are written when publishing a ``deliver`` task fails (broker down), and, with eager
Celery, for sink retries waiting out their backoff. :func:`drain` re-publishes due rows and
deletes each one only after the broker accepted it, so a crash mid-drain repeats a batch
rather than losing it (at least once; event ids make consumers exact).

Drainers: the ``django_experiments.tracking.drain_outbox`` periodic task (Celery beat), and
``manage.py drain_outbox`` (``--inline`` delivers straight to the sinks, without a broker).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from django_experiments.conf import settings
from django_experiments.tracking import redis_handoff
from django_experiments.tracking.delivery import deliver_batch
from django_experiments.tracking.models import OutboxBatch
from django_experiments.tracking.producer import publish

logger = logging.getLogger("django_experiments.tracking")

PAGE = 100


@dataclass
class DrainResult:
    #: Batches handed to the broker (or, inline, through the sinks) and deleted.
    drained: int = 0
    #: True when the broker refused a batch and the drain stopped early.
    broker_down: bool = False
    #: Due rows left behind (broker down or limit reached).
    remaining: int = 0


def due() -> Any:
    return OutboxBatch.objects.filter(available_at__lte=timezone.now())


def drain(limit: int = 1000, *, inline: bool = False) -> DrainResult:
    """Re-publish up to ``limit`` due batches (oldest first); ``inline`` delivers them here.

    On PostgreSQL (and other backends with ``SKIP LOCKED``) each page is claimed with row
    locks, so concurrent drainers never publish the same row twice. SQLite has no row locks;
    there a concurrent drainer may duplicate a batch, which ids make harmless.
    """
    result = DrainResult()
    started = timezone.now()
    last_id = 0
    locking = bool(connection.features.has_select_for_update_skip_locked)
    while result.drained < limit and not result.broker_down:
        with _page_transaction(locking):
            qs = OutboxBatch.objects.filter(available_at__lte=started, pk__gt=last_id)
            qs = qs.order_by("pk")
            if locking:
                qs = qs.select_for_update(skip_locked=True)
            rows = list(qs[: min(PAGE, limit - result.drained)])
            if not rows:
                break
            for row in rows:
                last_id = row.pk
                if inline:
                    deliver_batch(row.events, row.sinks, row.attempt, row.dead_letter_id)
                else:
                    try:
                        publish(
                            row.events,
                            sinks=row.sinks,
                            attempt=row.attempt,
                            dead_letter_id=row.dead_letter_id,
                        )
                    except Exception as exc:
                        logger.warning("Outbox drain stopped: broker unavailable (%s)", exc)
                        OutboxBatch.objects.filter(pk=row.pk).update(
                            last_error=f"drain enqueue failed: {exc}"[:2000]
                        )
                        result.broker_down = True
                        break
                row.delete()
                result.drained += 1
    result.remaining = due().count()
    if result.drained:
        logger.info("Outbox drained %d batches (%d due left)", result.drained, result.remaining)
    return result


@dataclass
class RedisDrainResult:
    #: Hand-overs (list elements) published to the broker (``inline``: the sinks) and removed.
    drained: int = 0
    #: Events in them.
    events: int = 0
    #: Claims of dead drains put back on the list first.
    recovered: int = 0
    #: True when the broker refused and the drain stopped (the elements are back on the list).
    broker_down: bool = False


def drain_redis(limit: int = 10_000, *, inline: bool = False) -> RedisDrainResult:
    """Move up to ``limit`` hand-overs of the "redis" hand-off's list to the broker.

    Their events go out in batches of ``TRACKING_BATCH_SIZE``: many requests' hand-overs in
    one ``deliver`` task. A claim is deleted only after every batch of it was published; if
    the broker refuses, the whole claim goes back on the list (a batch already published is
    published again: event ids make that harmless) and the drain stops.
    """
    result = RedisDrainResult()
    redis = redis_handoff.client()
    result.recovered = redis_handoff.recover(redis)
    size = max(1, int(settings.TRACKING_BATCH_SIZE))
    while result.drained < limit:
        token, events, count = redis_handoff.claim(
            redis, min(redis_handoff.PAGE, limit - result.drained)
        )
        if not count:
            break
        try:
            for start in range(0, len(events), size):
                chunk = events[start : start + size]
                if inline:
                    deliver_batch(chunk, None, 1, None)
                else:
                    publish(chunk)
        except Exception as exc:
            redis_handoff.release(redis, token)
            logger.warning("Redis hand-off drain stopped: broker unavailable (%s)", exc)
            result.broker_down = True
            break
        redis_handoff.ack(redis, token)
        result.drained += count
        result.events += len(events)
    if result.drained:
        logger.info("Redis hand-off drained %d events", result.events)
    return result


@contextlib.contextmanager
def _page_transaction(locking: bool) -> Iterator[None]:
    # Row locks only live inside a transaction. Without them (SQLite) a transaction would only
    # hold the database-wide write lock while publishing, blocking workers' writes.
    if locking:
        with transaction.atomic():
            yield
    else:
        yield
