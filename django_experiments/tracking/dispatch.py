"""How buffered events leave the process and reach every sink.

Request path (``flush_scope``, called once per request by the middleware) and the flush point
outside requests (``flush``) both end in :func:`ship`: after the current DB transaction commits,
the batch is handed to Celery as one ``deliver`` task. Handing over is bounded by a short
publish retry policy; if the broker still refuses, the batch is written to the durable outbox
and the request carries on.

In the worker, :func:`deliver_batch` sends the batch to each sink independently. A sink that
fails gets its own follow-up task (exponential backoff), so the sinks that succeeded are not
sent the batch again; after ``TRACKING_MAX_ATTEMPTS`` the batch becomes a dead letter for that
sink, re-driveable from the admin.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from django_experiments.background import BackgroundQueue
from django_experiments.conf import settings
from django_experiments.engine.scope import Scope
from django_experiments.tracking import events as events_mod
from django_experiments.tracking.sinks import get_sink

logger = logging.getLogger("django_experiments.tracking")

Event = dict[str, Any]


# --- leaving the process ---------------------------------------------------------------------


def flush_scope(scope: Scope) -> None:
    """Called by the middleware once per request, after the response is built."""
    if not scope.events:
        return
    batch, scope.events = scope.events, []
    ship(batch)


def flush() -> int:
    """Ship the process buffer (events tracked outside any scope); returns how many.

    The documented flush point for shells, scripts, management commands and Celery tasks.
    """
    batch = events_mod.take_pending()
    if batch:
        ship(batch)
    return len(batch)


def ship(batch: Sequence[Event]) -> None:
    """Hand ``batch`` to Celery once the current transaction commits (now if there is none).

    With a real broker and ``TRACKING_BACKGROUND_PUBLISH`` on, the publish itself happens on a
    background thread, so the request only pays for a queue put; that thread merges what many
    requests handed over into tasks of up to ``TRACKING_BATCH_SIZE`` events. Otherwise one
    task per ``TRACKING_BATCH_SIZE`` events, published here.
    """
    size = max(1, int(settings.TRACKING_BATCH_SIZE))
    items = list(batch)
    for start in range(0, len(items), size):
        # robust: an enqueue problem must never break the other on_commit callbacks of the
        # request; enqueue() already catches and falls back to the outbox.
        transaction.on_commit(partial(handoff, items[start : start + size]), robust=True)


def handoff(batch: Sequence[Event]) -> None:
    """Publish ``batch`` in the background when allowed, else right here."""
    if settings.TRACKING_BACKGROUND_PUBLISH and not _is_eager() and publisher.submit(batch):
        return
    batch = events_mod.first_in_window(batch)
    if batch:
        enqueue(batch)


def _publish_all(batches: list[Sequence[Event]]) -> None:
    """Every queued request's events as few tasks as ``TRACKING_BATCH_SIZE`` allows.

    A broker publish costs hundreds of microseconds of CPU whatever its size, so under load
    the publisher sends one task for many requests rather than one per request.
    """
    size = max(1, int(settings.TRACKING_BATCH_SIZE))
    events = events_mod.first_in_window([event for batch in batches for event in batch])
    for start in range(0, len(events), size):
        chunk = events[start : start + size]
        try:
            enqueue(chunk)
        except Exception:
            # enqueue() already falls back to the outbox; this is the outbox failing too.
            logger.exception("Could not publish or store %d tracking events", len(chunk))


class Publisher(BackgroundQueue[Sequence[Event]]):
    """The thread that publishes the batches requests hand over (``TRACKING_PUBLISH_LINGER``)."""

    def __init__(self, maxsize: int = 10_000) -> None:
        super().__init__(
            "django-experiments-publisher",
            _publish_all,
            linger=lambda: float(settings.TRACKING_PUBLISH_LINGER),
            maxsize=maxsize,
        )


publisher = Publisher()


def enqueue(
    batch: Sequence[Event],
    *,
    sinks: Sequence[str] | None = None,
    attempt: int = 1,
    dead_letter_id: int | None = None,
    countdown: float | None = None,
) -> bool:
    """Publish one ``deliver`` task; on any broker failure write the batch to the outbox.

    Returns True when the broker took it, False when it went to the outbox.
    """
    try:
        publish(
            batch,
            sinks=sinks,
            attempt=attempt,
            dead_letter_id=dead_letter_id,
            countdown=countdown,
        )
        return True
    except Exception as exc:
        logger.warning(
            "Broker unavailable (%s); %d tracking events kept in the outbox", exc, len(batch)
        )
        from django_experiments.tracking.outbox import store

        store(
            batch,
            sinks=sinks,
            attempt=attempt,
            dead_letter_id=dead_letter_id,
            delay=countdown or 0.0,
            error=f"enqueue failed: {exc}",
        )
        return False


def publish(
    batch: Sequence[Event],
    *,
    sinks: Sequence[str] | None = None,
    attempt: int = 1,
    dead_letter_id: int | None = None,
    countdown: float | None = None,
) -> None:
    """``deliver.apply_async`` with a short publish retry policy; raises when the broker is down.

    The policy bounds how long a dead broker can hold up the caller (a request): a refused
    connection fails in milliseconds; an unroutable host is bounded by Celery's
    ``broker_connection_timeout`` (set it low, e.g. 1-2 s, in the host project).
    """
    from django_experiments.tracking.tasks import deliver

    options: dict[str, Any] = {
        "kwargs": {
            "events": list(batch),
            "sinks": list(sinks) if sinks is not None else None,
            "attempt": attempt,
            "dead_letter_id": dead_letter_id,
        },
        # Celery otherwise builds a repr of the whole batch for every message it sends.
        "argsrepr": "()",
        "kwargsrepr": f"{{events: <{len(batch)} events>, attempt: {attempt}}}",
        "retry": True,
        "retry_policy": {
            "max_retries": max(0, int(settings.TRACKING_ENQUEUE_RETRIES)),
            "interval_start": 0,
            "interval_step": 0.1,
            "interval_max": 0.2,
        },
    }
    if countdown:
        options["countdown"] = countdown
    if settings.TRACKING_QUEUE:
        options["queue"] = settings.TRACKING_QUEUE
    deliver.apply_async(**options)


# --- in the worker ---------------------------------------------------------------------------


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): base * 2**(n-1),
    capped, with up to 10% jitter so retries of many batches do not arrive in lockstep."""
    base = float(settings.TRACKING_RETRY_BACKOFF)
    delay = min(base * (2 ** max(0, attempt - 1)), float(settings.TRACKING_RETRY_BACKOFF_MAX))
    return delay + random.uniform(0, delay * 0.1)


def _is_eager() -> bool:
    """Whether the current Celery app runs tasks inline; read once per app object.

    Reading Celery's layered configuration costs more than the rest of a request's hand-over,
    and an app's eagerness is set when it is configured, not flipped per request.
    """
    from celery._state import get_current_app

    app = get_current_app()
    cached = _eager.get(id(app))
    if cached is None or cached[0] is not app:
        if len(_eager) > 16:
            _eager.clear()
        cached = _eager[id(app)] = (app, bool(app.conf.task_always_eager))
    return cached[1]


_eager: dict[int, tuple[Any, bool]] = {}


def deliver_batch(
    batch: Sequence[Event],
    sinks: Sequence[str] | None = None,
    attempt: int = 1,
    dead_letter_id: int | None = None,
) -> dict[str, str]:
    """Send ``batch`` to each sink (all configured ones when ``sinks`` is None).

    Returns ``{sink path: "ok" | "retry" | "dead"}``. Never raises for a sink failure.
    """
    targets = list(sinks) if sinks is not None else list(settings.TRACKING_SINKS)
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
            from django_experiments.tracking.outbox import store

            store(
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
    if _is_eager():
        # Eager Celery would run the retry inline, right now, inside the caller (a request):
        # park it in the outbox instead, where drain_outbox honours the backoff.
        from django_experiments.tracking.outbox import store

        store(
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
    from django_experiments.tracking.models import DeadLetter

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
    from django_experiments.tracking.models import DeadLetter

    DeadLetter.objects.filter(pk=dead_letter_id).update(
        state=DeadLetter.State.DELIVERED, updated_at=timezone.now()
    )


def redrive(dead_letters: Any) -> int:
    """Send dead letters (a queryset or iterable of DeadLetter) back through delivery.

    Each is retried for its own sink from attempt 1; it is marked delivered on success or dead
    again (same row) after another ``TRACKING_MAX_ATTEMPTS``. Returns how many were re-driven.
    """
    from django_experiments.tracking.models import DeadLetter

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
