"""The worker side of tracking: one batch to every sink, retries, dead letters, re-drive.

:func:`deliver_batch` sends the batch to each sink independently. A sink that fails gets its
own follow-up task (exponential backoff), so the sinks that succeeded are not sent the batch
again; after ``TRACKING_MAX_ATTEMPTS`` the batch becomes a dead letter for that sink,
re-driveable from the admin.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from django_experiments.conf import settings
from django_experiments.tracking.eager import is_eager
from django_experiments.tracking.events import first_in_window
from django_experiments.tracking.models import DeadLetter
from django_experiments.tracking.outbox_write import store as store_in_outbox
from django_experiments.tracking.producer import enqueue
from django_experiments.tracking.sinks import get_sink

logger = logging.getLogger("django_experiments.tracking")

Event = dict[str, Any]


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): base * 2**(n-1),
    capped, with up to 10% jitter so retries of many batches do not arrive in lockstep."""
    base = float(settings.TRACKING_RETRY_BACKOFF)
    delay = min(base * (2 ** max(0, attempt - 1)), float(settings.TRACKING_RETRY_BACKOFF_MAX))
    return delay + random.uniform(0, delay * 0.1)


def deliver_batch(
    batch: Sequence[Event],
    sinks: Sequence[str] | None = None,
    attempt: int = 1,
    dead_letter_id: int | None = None,
) -> dict[str, str]:
    """Send ``batch`` to each sink (all configured ones when ``sinks`` is None).

    Returns ``{sink path: "ok" | "retry" | "dead"}``. Never raises for a sink failure.

    A batch's first delivery drops the exposures already recorded in the dedupe window
    (``TRACKING_DEDUPE_SECONDS``); its retries and re-drives carry what that kept.
    """
    targets = list(sinks) if sinks is not None else list(settings.TRACKING_SINKS)
    if attempt == 1 and dead_letter_id is None:
        batch = first_in_window(batch)
        if not batch:
            return dict.fromkeys(targets, "ok")
    outcome: dict[str, str] = {}
    for path in targets:
        try:
            _send(path, batch)
        except Exception as exc:
            outcome[path] = _failed(batch, path, attempt, dead_letter_id, exc)
        else:
            outcome[path] = "ok"
            if dead_letter_id is not None:
                try:
                    _mark_delivered(dead_letter_id)
                except Exception:
                    # Delivered is what matters; a stale "re-driving" state is only cosmetic.
                    logger.exception("Could not mark dead letter %s delivered", dead_letter_id)
    return outcome


def _send(path: str, batch: Sequence[Event]) -> None:
    sink = get_sink(path)
    if transaction.get_connection().in_atomic_block:
        # Inside a caller's transaction (an inline outbox drain on PostgreSQL), a savepoint
        # keeps one sink's database error from aborting the whole transaction.
        with transaction.atomic():
            sink.send(batch)
    else:
        sink.send(batch)


def _failed(
    batch: Sequence[Event], path: str, attempt: int, dead_letter_id: int | None, exc: Exception
) -> str:
    error = f"{type(exc).__name__}: {exc}"
    max_attempts = max(1, int(settings.TRACKING_MAX_ATTEMPTS))
    if attempt >= max_attempts:
        logger.error(
            "Sink %s failed %d times; %d events dead-lettered: %s",
            path,
            attempt,
            len(batch),
            error,
        )
        try:
            dead_letter(batch, path, attempt, error, dead_letter_id)
        except Exception:
            # The dead-letter table is unwritable (database trouble): keep the batch owed to
            # this sink in the outbox rather than lose it; the next drain tries again.
            logger.exception("Dead letter write failed; batch kept in the outbox")
            store_in_outbox(
                batch,
                sinks=[path],
                attempt=attempt,
                dead_letter_id=dead_letter_id,
                delay=backoff(attempt),
                error=error,
            )
        return "dead"
    delay = backoff(attempt)
    logger.warning(
        "Sink %s failed (attempt %d/%d), retrying in %.1fs: %s",
        path,
        attempt,
        max_attempts,
        delay,
        error,
    )
    if is_eager():
        # Eager Celery would run the retry inline, right now, inside the caller (a request):
        # park it in the outbox instead, where drain_outbox honours the backoff.
        store_in_outbox(
            batch,
            sinks=[path],
            attempt=attempt + 1,
            dead_letter_id=dead_letter_id,
            delay=delay,
            error=error,
        )
    else:
        enqueue(
            batch,
            sinks=[path],
            attempt=attempt + 1,
            dead_letter_id=dead_letter_id,
            countdown=delay,
        )
    return "retry"


def dead_letter(
    batch: Sequence[Event], path: str, attempts: int, error: str, dead_letter_id: int | None
) -> None:
    now = timezone.now()
    if dead_letter_id is not None:
        # A re-driven letter that fails again goes back to the same row.
        updated = DeadLetter.objects.filter(pk=dead_letter_id).update(
            state=DeadLetter.State.DEAD,
            last_error=error,
            updated_at=now,
            attempts=F("attempts") + attempts,
        )
        if updated:
            return
    DeadLetter.objects.create(
        sink=path,
        events=list(batch),
        event_count=len(batch),
        attempts=attempts,
        last_error=error,
        created_at=now,
        updated_at=now,
    )


def _mark_delivered(dead_letter_id: int) -> None:
    DeadLetter.objects.filter(pk=dead_letter_id).update(
        state=DeadLetter.State.DELIVERED, updated_at=timezone.now()
    )


def redrive(dead_letters: Any) -> int:
    """Send dead letters (a queryset or iterable of DeadLetter) back through delivery.

    Each is retried for its own sink from attempt 1; it is marked delivered on success or dead
    again (same row) after another ``TRACKING_MAX_ATTEMPTS``. Returns how many were re-driven.
    """
    count = 0
    now = timezone.now()
    for letter in list(dead_letters):
        if letter.state == DeadLetter.State.DELIVERED:
            continue
        # Mark first: an eager delivery inside enqueue() may already settle the row.
        DeadLetter.objects.filter(pk=letter.pk).update(
            state=DeadLetter.State.REDRIVING,
            redriven_at=now,
            updated_at=now,
            redrive_count=letter.redrive_count + 1,
        )
        enqueue(letter.events, sinks=[letter.sink], attempt=1, dead_letter_id=letter.pk)
        count += 1
    return count
