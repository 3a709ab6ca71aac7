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


@contextlib.contextmanager
def _page_transaction(locking: bool) -> Iterator[None]:
    # Row locks only live inside a transaction. Without them (SQLite) a transaction would only
    # hold the database-wide write lock while publishing, blocking workers' writes.
    if locking:
        with transaction.atomic():
            yield
    else:
        yield
