"""The event schema: building and validating one event, and the exposure dedupe window.

An event is one JSON-serialisable dict (docs/tracking.md, "Event schema"): ``id`` (uuid4),
``event``, ``experiment``, ``variant``, ``key``, optional ``migration_keys``, ``value``,
``properties``, ``timestamp``, ``phase`` (the experiment's phase number when it was built) and
``forced`` (the variant was chosen by hand: ``glex_force`` or an explicit variant) and
``holdout`` (the context is in a holdout: control, analysed apart). Raw user ids never appear:
``key`` is the context's HMAC.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from django.core.cache import caches

from django_experiments.conf import settings
from django_experiments.engine.decision import HAND_PICKED, Reason
from django_experiments.engine.redis_wire import round_trip

if TYPE_CHECKING:
    from django_experiments.engine.experiment import Experiment

logger = logging.getLogger("django_experiments.tracking")

ASSIGNMENT = "assignment"
MAX_NAME_LENGTH = 100
DEDUPE_PREFIX = "glex:trk"


class InvalidEventError(ValueError):
    """An event name, value or properties that cannot be tracked; the message says why."""


def validate_properties(properties: Any) -> dict[str, Any]:
    if type(properties) is dict and not properties:
        return {}  # the common case (assignment events): nothing to encode or bound
    if not isinstance(properties, dict):
        raise InvalidEventError(
            f"event properties must be an object (dict), got {type(properties).__name__}"
        )
    if any(not isinstance(k, str) for k in properties):
        raise InvalidEventError("event property names must be strings")
    try:
        encoded = json.dumps(properties, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidEventError(f"event properties must be JSON-serialisable: {exc}") from exc
    limit = settings.EVENT_MAX_PROPERTIES_BYTES
    size = len(encoded.encode())
    if size > limit:
        raise InvalidEventError(
            f"event properties take {size} bytes as JSON; the limit is {limit} "
            "(EVENT_MAX_PROPERTIES_BYTES)"
        )
    # The round trip drops anything JSON would not keep (tuples become lists), so what sinks
    # receive is exactly what was validated.
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def validate_value(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEventError(f"event value must be a number or null, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidEventError("event value must be finite")
    if isinstance(value, int) and abs(value) > 2**53:
        # Beyond this a JSON consumer (JavaScript, a float column) silently loses precision.
        raise InvalidEventError("event value must be within ±2**53")
    return value


def validate_name(event: Any) -> str:
    if not isinstance(event, str) or not event.strip() or len(event) > MAX_NAME_LENGTH:
        raise InvalidEventError(
            f"event name must be a non-empty string of at most {MAX_NAME_LENGTH} characters"
        )
    return event


def new_event_id() -> str:
    """A random (version 4) UUID string, as ``str(uuid.uuid4())`` gives, at a third of the cost.

    One per event on the request path; ``uuid.UUID`` validates and normalises its input, which
    a value built from fresh random bytes does not need.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def build_event(
    experiment: Experiment, event: str, value: Any = None, properties: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One schema event for ``experiment``'s context; raises InvalidEventError on bad input."""
    if event != ASSIGNMENT or value is not None or properties:
        return _event(
            experiment,
            validate_name(event),
            validate_value(value),
            validate_properties({} if properties is None else properties),
        )
    return _event(experiment, ASSIGNMENT, None, {})


def _event(
    experiment: Experiment, event: str, value: float | int | None, properties: dict[str, Any]
) -> dict[str, Any]:
    # Valid input only: an exposure (the common event, five on a page of five experiments)
    # skips the validators above.
    decision = experiment.decision
    definition = experiment.definition
    context = experiment.context
    data: dict[str, Any] = {
        "id": new_event_id(),
        "event": event,
        "experiment": experiment.name,
        "variant": decision.variant,
        "key": context.key,
        "value": value,
        "properties": properties,
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "phase": definition.phase if definition is not None else None,
        "forced": decision.reason in HAND_PICKED,
        "holdout": decision.reason is Reason.HOLDOUT,
    }
    migration_keys = context.migration_keys
    if migration_keys:
        data["migration_keys"] = list(migration_keys)
    return data


def dedupe_key(event: Mapping[str, Any]) -> str:
    # Once per context, experiment and phase; the variant is part of the key too, so a
    # context that moves to another variant within a phase (a forced assignment) is exposed
    # to it as well.
    return (
        f"{DEDUPE_PREFIX}:{event['experiment']}:{event['key']}:"
        f"{event.get('phase')}:{event['variant']}"
    )


def first_in_window(batch: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``batch`` without the assignment events another event already claimed in the window.

    Called by the worker before the sinks (:func:`~django_experiments.tracking.delivery.
    deliver_batch`), never on the request path, which so keeps to its one round trip. Each
    exposure claims its dedupe key with its own event id: a batch delivered again (a worker
    that died before acknowledging it) finds its own ids there and keeps its events, so the
    window can never drop an event that was not delivered. A dead cache keeps every event:
    at-least-once means a duplicate is the lesser harm (results count a context's first
    exposure).
    """
    window = settings.TRACKING_DEDUPE_SECONDS
    if not window or window <= 0:
        return list(batch)
    positions = [i for i, event in enumerate(batch) if event.get("event") == ASSIGNMENT]
    if not positions:
        return list(batch)
    alias = settings.TRACKING_DEDUPE_CACHE_ALIAS or settings.STORE_ALIAS
    claims = [(dedupe_key(batch[i]), str(batch[i].get("id") or "")) for i in positions]
    try:
        kept = _claim_many(alias, claims, int(window))
    except Exception:
        logger.debug("Assignment dedupe cache unavailable; emitting", exc_info=True)
        return list(batch)
    repeated = {i for i, keep in zip(positions, kept, strict=True) if not keep}
    return [event for i, event in enumerate(batch) if i not in repeated]


def _claim_many(alias: str, claims: list[tuple[str, str]], timeout: int) -> list[bool]:
    """For each ``(key, event id)``: True when the key is this event's (claimed now, or by
    this same event in an earlier delivery), False when another event holds it.

    On django-redis's default client, one round trip of ``SET NX EX`` and ``GET`` per key
    (values and keys as ``cache.add`` / ``cache.get`` would write and read them); on other
    caches, ``add`` and, when it refuses, ``get`` per key.
    """
    cache = caches[alias]
    client = _django_redis_client(cache)
    if client is None:
        out = []
        for key, event_id in claims:
            added = cache.add(key, event_id, timeout)
            # None (not False) is what a cache that ignores its errors returns: keep.
            out.append(added is not False or (bool(event_id) and cache.get(key) == event_id))
        return out
    commands: list[tuple[Any, ...]] = []
    for key, event_id in claims:
        made = client.make_key(key)
        commands += [("SET", made, client.encode(event_id), "NX", "EX", timeout), ("GET", made)]
    replies = round_trip(client.get_client(write=True), commands)
    out = []
    for n, (_, event_id) in enumerate(claims):
        # SET NX replies OK when it set the key, nil when the key existed.
        claimed, holder = replies[2 * n], replies[2 * n + 1]
        mine = bool(event_id) and holder is not None and client.decode(holder) == event_id
        out.append(claimed is not None or mine)
    return out


def _django_redis_client(cache: Any) -> Any:
    try:
        from django_redis.client import DefaultClient
    except ImportError:  # pragma: no cover - django-redis is a dependency
        return None
    client: Any = getattr(cache, "client", None)
    if type(client) is not DefaultClient:  # sharded / herd clients: the generic path
        return None
    return client
