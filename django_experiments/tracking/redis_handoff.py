"""The "redis" hand-off: a request's events go to a Redis list; a drain moves them to Celery.

Why it exists (docs/performance.md, sections 4 and 5): one Celery publish costs a web worker
far more CPU than the page's experiments themselves, while an ``RPUSH`` riding in the
pipeline that already writes a new visitor's assignments costs almost nothing. Nothing runs
in the background: when the response leaves, the request's events are in Redis (or, if Redis
refused them, in the broker or the outbox table, as with the "broker" hand-off).

Layout (one cluster hash tag, so the scripts stay single-slot):

- ``{key}``: the list; each element is one hand-over (a JSON array of events);
- ``{key}:inflight``: a hash of claims: token → ``{"t": claimed at, "items": [...]}``.

:func:`django_experiments.tracking.outbox.drain_redis` claims up to a page of elements
atomically (moved into the claims hash),
publishes their events in batches of ``TRACKING_BATCH_SIZE``, then deletes the claim. A drain
that dies between claim and delete leaves the claim behind; once it is older than
``TRACKING_REDIS_VISIBILITY`` the next drain puts its elements back on the list (at least
once: event ids make the sinks exact). While the broker refuses, the claim is put back at
once and the drain stops.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from django_experiments.conf import settings
from django_experiments.engine.redis_wire import round_trip
from django_experiments.tracking.eager import is_eager

logger = logging.getLogger("django_experiments.tracking")

Event = dict[str, Any]

#: Elements claimed per script call: a page of requests' hand-overs.
PAGE = 200

# KEYS[1] list, KEYS[2] claims; ARGV[1] how many, ARGV[2] token, ARGV[3] now.
_CLAIM_LUA = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return items end
redis.call('LTRIM', KEYS[1], #items, -1)
redis.call('HSET', KEYS[2], ARGV[2], cjson.encode({t = tonumber(ARGV[3]), items = items}))
return items
"""

# KEYS[1] list, KEYS[2] claims; ARGV[1] token. The claim's elements go back to the head of
# the list, in their order (they were the oldest).
_RELEASE_LUA = """
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 0 end
local items = cjson.decode(raw)['items']
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[1], items[i]) end
redis.call('HDEL', KEYS[2], ARGV[1])
return #items
"""


def configured() -> bool:
    """Whether the settings choose the Redis list: ``"redis"``, or ``"auto"`` with the Redis
    store (its django-redis alias is then the list's, unless TRACKING_REDIS_ALIAS says
    otherwise). The drain moves the list whenever this is true."""
    handoff = settings.TRACKING_HANDOFF
    return handoff == "redis" or (handoff == "auto" and settings.STORE == "redis")


def enabled() -> bool:
    """Whether requests hand events to the Redis list.

    Not under eager Celery (the demo, tests without a broker): no drain runs there, so events
    are delivered inline as the "broker" hand-off does.
    """
    return configured() and not is_eager()


def alias() -> str:
    return settings.TRACKING_REDIS_ALIAS or settings.STORE_ALIAS


def client() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection(alias())


def keys() -> tuple[str, str]:
    """The list and its claims hash, under one cluster hash tag."""
    tag = "{" + settings.TRACKING_REDIS_KEY + "}"
    return tag, f"{tag}:inflight"


def command(batch: Sequence[Event]) -> tuple[str, str, str]:
    """The ``RPUSH`` that hands ``batch`` over, for a pipeline that is already going out."""
    return ("RPUSH", keys()[0], json.dumps(list(batch), separators=(",", ":")))


def push(batch: Sequence[Event]) -> None:
    """Hand ``batch`` over in its own round trip; raises when Redis does not take it."""
    round_trip(client(), [command(batch)])


def pending() -> int:
    """Events' hand-overs waiting in the list (not counting claimed ones)."""
    return int(client().llen(keys()[0]))


def claim(redis: Any, count: int) -> tuple[str, list[Event], int]:
    """Take up to ``count`` of the oldest hand-overs into a new claim, atomically.

    Returns the claim's token, their events and how many hand-overs they were (0: the list
    is empty). The caller publishes them, then calls :func:`ack` (or :func:`release`).
    """
    list_key, claims_key = keys()
    token = uuid.uuid4().hex
    items = redis.eval(_CLAIM_LUA, 2, list_key, claims_key, count, token, time.time())
    events: list[Event] = []
    for item in items or ():
        events.extend(_decode(item))
    return token, events, len(items or ())


def ack(redis: Any, token: str) -> None:
    """The claim's events are with the broker (or the sinks): forget them."""
    redis.hdel(keys()[1], token)


def release(redis: Any, token: str) -> int:
    """Put the claim's hand-overs back at the head of the list; how many went back."""
    list_key, claims_key = keys()
    return int(redis.eval(_RELEASE_LUA, 2, list_key, claims_key, token) or 0)


def recover(redis: Any) -> int:
    """Put back the claims of drains that died (older than ``TRACKING_REDIS_VISIBILITY``)."""
    list_key, claims_key = keys()
    deadline = time.time() - float(settings.TRACKING_REDIS_VISIBILITY)
    recovered = 0
    for token, raw in redis.hgetall(claims_key).items():
        try:
            claimed_at = float(json.loads(raw)["t"])
        except (ValueError, KeyError, TypeError):
            claimed_at = 0.0  # unreadable: treat as abandoned, the release script re-reads it
        if claimed_at <= deadline:
            recovered += int(redis.eval(_RELEASE_LUA, 2, list_key, claims_key, token) or 0)
    if recovered:
        logger.warning("Redis hand-off: %d hand-over(s) of a dead drain put back", recovered)
    return recovered


def _decode(item: bytes | str) -> list[Event]:
    try:
        events = json.loads(item)
    except ValueError:
        logger.critical("Unreadable hand-over in the Redis list, kept in the log: %r", item)
        return []
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []
