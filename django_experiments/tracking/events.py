"""Event schema and the buffer events wait in before they leave the process.

Inside a bound scope (a request) events are buffered on the scope and leave once, at the end.
Outside one they go to a process buffer that :func:`flush` empties (the documented flush point
for shells, scripts and tasks).
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from django_experiments.conf import settings

if TYPE_CHECKING:
    from django_experiments.engine.experiment import Experiment

ASSIGNMENT = "assignment"

_pending: list[dict[str, Any]] = []
_pending_lock = threading.Lock()


class InvalidEventError(ValueError):
    """An event name, value or properties that cannot be tracked; the message says why."""


def validate_properties(properties: dict[str, Any]) -> dict[str, Any]:
    try:
        encoded = json.dumps(properties, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidEventError(f"event properties must be JSON-serialisable: {exc}") from exc
    limit = settings.EVENT_MAX_PROPERTIES_BYTES
    if len(encoded.encode()) > limit:
        raise InvalidEventError(
            f"event properties take {len(encoded.encode())} bytes as JSON; the limit is {limit} "
            "(EVENT_MAX_PROPERTIES_BYTES)"
        )
    return properties


def validate_value(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEventError(f"event value must be a number or None, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidEventError("event value must be finite")
    return value


def validate_name(event: Any) -> str:
    if not isinstance(event, str) or not event or len(event) > 100:
        raise InvalidEventError("event name must be a non-empty string of at most 100 characters")
    return event


def build_event(
    experiment: Experiment, event: str, value: Any = None, properties: dict[str, Any] | None = None
) -> dict[str, Any]:
    signature = experiment.context.signature
    data: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "event": validate_name(event),
        "experiment": experiment.name,
        "variant": experiment.assigned.name,
        "key": signature["key"],
        "value": validate_value(value),
        "properties": validate_properties(dict(properties or {})),
        "timestamp": datetime.now(timezone.utc).isoformat(),
    }
    if "migration_keys" in signature:
        data["migration_keys"] = signature["migration_keys"]
    return data


def emit(event: dict[str, Any]) -> dict[str, Any]:
    from django_experiments.engine.scope import current_scope

    scope = current_scope()
    if scope is not None:
        scope.events.append(event)
    else:
        with _pending_lock:
            _pending.append(event)
    return event


def emit_assignment(experiment: Experiment) -> dict[str, Any] | None:
    """At most once per (experiment, context key) per scope."""
    scope = experiment.context.scope
    if scope is not None:
        seen = (experiment.name, experiment.context.key)
        if seen in scope.assignment_seen:
            return None
        scope.assignment_seen.add(seen)
    return emit(build_event(experiment, ASSIGNMENT))


def take_pending() -> list[dict[str, Any]]:
    with _pending_lock:
        events = list(_pending)
        _pending.clear()
    return events
