"""The web side of tracking: build events, buffer them on their scope, hand them to Celery.

Wired into the engine in ``AppConfig.ready()`` (``hooks.on_event = producer.on_event``).

Where an event goes:

* its experiment's scope buffers it while the scope's shell will close it (the middleware sets
  ``Scope.deferring``): the request's events leave together, once, when it closes;
* otherwise (no scope, a scope bound by user code, a streaming body after the middleware
  closed its scope) it is handed over at once.

Handing over (:func:`ship`) happens after the current transaction commits, on the calling
thread: one ``deliver`` task per ``TRACKING_BATCH_SIZE`` events, published with Celery's short
publish retry policy. If the broker still refuses, the batch is written to the durable outbox.
So when a request's response is returned (or ``track()`` returns outside a request and outside
a transaction), each of its events is in the broker or in the outbox: nothing waits in memory
for a thread, and a process that exits (``os._exit``, SIGKILL) right after loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from django.db import transaction

from django_experiments.conf import settings
from django_experiments.engine.experiment import EXPOSURE, Experiment
from django_experiments.engine.scope import Scope
from django_experiments.tracking import events as events_mod
from django_experiments.tracking import redis_handoff
from django_experiments.tracking.outbox_write import store as store_in_outbox

logger = logging.getLogger("django_experiments.tracking")

Event = dict[str, Any]
DELIVER_TASK = "django_experiments.tracking.deliver"

#: Active event captures (testing): while any is active, events are recorded, not shipped.
#: Each is called with the experiment, the event, and whether it was tracked (False: track()
#: was called but the context should not be tracked, so nothing would have been shipped).
captures: list[Callable[[Experiment, Event, bool], None]] = []


def on_event(
    experiment: Experiment, event: str, value: Any, properties: dict[str, Any], tracked: bool
) -> Event | None:
    """The engine's ``on_event`` hook: an exposure or a custom event of ``experiment``."""
    exposure = event == EXPOSURE and not properties and value is None
    if captures:
        return _capture(experiment, event, value, properties, tracked, exposure)
    if not tracked:
        return None
    if exposure and not _first_in_scope(experiment):
        return None
    built = events_mod.build_event(experiment, event, value, properties)
    emit(experiment.context.scope, built)
    return built


def _first_in_scope(experiment: Experiment) -> bool:
    """At most one exposure per (experiment, context key, phase) per scope; checked before
    the event is built, so a repeat costs nothing."""
    context = experiment.context
    scope = context.scope
    if scope is None:
        return True
    definition = experiment.definition
    seen = (experiment.name, context.key, definition.phase if definition is not None else None)
    if seen in scope.assignment_seen:
        return False
    scope.assignment_seen.add(seen)
    return True


def _capture(
    experiment: Experiment,
    event: str,
    value: Any,
    properties: dict[str, Any],
    tracked: bool,
    exposure: bool,
) -> Event | None:
    if not tracked:
        if exposure:  # an exposure that is not recorded is not an event at all
            return None
        data: Event = {"event": event, "value": value, "properties": properties}
    else:
        if exposure and not _first_in_scope(experiment):
            return None
        data = events_mod.build_event(experiment, event, value, properties)
    for capture in list(captures):
        capture(experiment, data, tracked)
    return data if tracked else None


def emit(scope: Scope | None, event: Event) -> None:
    """Buffer ``event`` on ``scope`` while its shell will close it; else hand it over now."""
    if scope is not None and scope.deferring:
        scope.events.append(event)
    else:
        ship([event])


def flush_scope(scope: Scope) -> None:
    """Hand the scope's buffered events over (the shell calls it once, when it closes)."""
    if not scope.events:
        return
    batch, scope.events = scope.events, []
    ship(batch)


def ship(batch: Sequence[Event]) -> None:
    """Hand ``batch`` to Celery once the current transaction commits (now if there is none)."""
    size = max(1, int(settings.TRACKING_BATCH_SIZE))
    items = list(batch)
    for start in range(0, len(items), size):
        _after_commit(partial(hand_over, items[start : start + size]))


def _after_commit(callback: Callable[[], None]) -> None:
    """``callback`` once the current transaction commits, or now when there is none."""
    connection = _open_transaction()
    if connection is not None:
        # robust: a hand-over problem must never break the request's other on_commit
        # callbacks; hand_over() already falls back to the outbox.
        connection.on_commit(callback, robust=True)
        return
    # Not in a transaction, decided without touching the database: ``on_commit`` would open a
    # connection (to read autocommit) in every thread that tracks.
    callback()


def _open_transaction() -> Any:
    """The default connection when it is inside a transaction, else None (decided without
    connecting: ``on_commit`` would open a connection in every thread that tracks)."""
    try:
        connection = transaction.get_connection()
        return connection if connection.in_atomic_block else None
    except Exception:
        # No usable database connection: there is no transaction to wait for, and tracking
        # must not fail the caller.
        logger.debug("No database connection to check for a transaction", exc_info=True)
        return None


def hand_over(batch: Sequence[Event]) -> None:
    """Hand ``batch`` over on this thread: to the Redis list with the "redis" hand-off, else
    (or when Redis refuses) to the broker, else to the outbox. The exposure dedupe window is
    the worker's (delivery.deliver_batch): it costs the request no round trip."""
    if redis_handoff.enabled():
        try:
            redis_handoff.push(batch)
            return
        except Exception as exc:
            logger.warning("Redis hand-off refused %d events (%s); publishing", len(batch), exc)
    enqueue(batch)


def carry(scope: Scope) -> tuple[tuple[Any, ...], list[Event]] | None:
    """The ``RPUSH`` for the scope's events, to ride in the pipeline that writes its new
    assignments (one round trip for both), and the batch it carries; None when the events
    must be handed over on their own (another hand-off, a transaction to wait for, captures,
    nothing buffered). The events leave the scope: the caller hands ``batch`` over itself
    if the pipeline fails.
    """
    if not scope.events or not scope.pending or captures or not redis_handoff.enabled():
        return None
    if len(scope.events) > max(1, int(settings.TRACKING_BATCH_SIZE)):
        return None
    if _open_transaction() is not None:
        return None
    batch, scope.events = scope.events, []
    return redis_handoff.command(batch), batch


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
        store_in_outbox(
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
    connection fails in milliseconds; an unreachable host is bounded by Celery's
    ``broker_connection_timeout`` (docs/tracking.md recommends 1-2 s for web processes).
    """
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
    deliver_task().apply_async(**options)


def deliver_task() -> Any:
    """The ``deliver`` task of the current Celery app, looked up by name.

    By name rather than imported: the tasks module sits above both sides of the pipeline
    (it calls the worker side, which re-enqueues through this module).
    """
    from celery import current_app

    return current_app.tasks[DELIVER_TASK]
