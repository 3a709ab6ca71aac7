"""Tracking sinks: where batches of events go, chosen by dotted path in ``TRACKING_SINKS``.

A sink is a class with a no-argument constructor and ``send(events)``. ``send`` returns when
the whole batch is accepted and raises on any failure; the delivery task then retries the batch
for that sink alone, with exponential backoff, and dead-letters it after
``TRACKING_MAX_ATTEMPTS``. Delivery is at least once, so a sink may see a batch again: every
event has a unique ``id`` to dedupe on (DatabaseSink does).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from django.db import models
from django.utils.module_loading import import_string

from django_experiments.conf import settings

logger = logging.getLogger("django_experiments.events")


class SinkError(Exception):
    """A sink could not take a batch; the message says why."""


class Sink:
    name = "sink"

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError


class LoggingSink(Sink):
    """One INFO line of JSON per event on the ``django_experiments.events`` logger."""

    name = "logging"

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        for event in events:
            logger.info(json.dumps(event, sort_keys=True))


class HttpSink(Sink):
    """JSON POST of ``{"events": [...]}`` to ``TRACKING_HTTP_URL``.

    Any 2xx is success; anything else (including timeouts) raises so the batch is retried.
    ``TRACKING_HTTP_HEADERS`` carries the auth header (``{"Authorization": "Bearer ..."}``).
    """

    name = "http"

    def __init__(
        self,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.url = url if url is not None else settings.TRACKING_HTTP_URL
        self.headers = dict(headers if headers is not None else settings.TRACKING_HTTP_HEADERS)
        self.timeout = float(timeout if timeout is not None else settings.TRACKING_HTTP_TIMEOUT)

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        if not self.url:
            raise SinkError("HttpSink needs DJANGO_EXPERIMENTS['TRACKING_HTTP_URL']")
        if not self.url.startswith(("http://", "https://")):
            raise SinkError(f"HttpSink URL must be http(s), got {self.url!r}")
        body = json.dumps({"events": list(events)}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **self.headers}
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            raise SinkError(f"HTTP {exc.code} from {self.url}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise SinkError(f"cannot reach {self.url}: {exc}") from exc
        if not 200 <= status < 300:
            raise SinkError(f"HTTP {status} from {self.url}")


class DatabaseSink(Sink):
    """Stores events in ``TrackedEvent``; idempotent on the event ``id``.

    In the same transaction it refreshes the results rollups (ContextExposure,
    ContextConversion) of the contexts the batch touched: see ``results/rollup.py``.
    """

    name = "database"

    COLUMNS = frozenset(
        {
            "event_id",
            "event",
            "experiment",
            "variant",
            "key",
            "migration_keys",
            "value",
            "properties",
            "timestamp",
            "received_at",
            "phase",
            "forced",
            "holdout",
        }
    )

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        """Multi-row INSERTs that ignore conflicts on ``event_id`` and return the ids they
        stored; the rollups then take only those events.

        ``bulk_create`` builds a model instance per event and prepares every cell through the
        SQL compiler, which made this sink the worker's bottleneck; preparing values per column
        and letting the DB-API driver run the statement is several times faster. A redelivered
        batch stores nothing and so changes no rollup.
        """
        from django.db import connections, router, transaction
        from django.db.models.constants import OnConflict
        from django.utils import timezone

        from django_experiments.tracking.models import TrackedEvent

        rollup = rollups

        alias = router.db_for_write(TrackedEvent)
        connection = connections[alias]
        meta = TrackedEvent._meta
        fields = [f for f in meta.concrete_fields if f.name in self.COLUMNS]
        received_at = meta.get_field("received_at").get_db_prep_save(timezone.now(), connection)
        # _to_row already gives char and float columns their final Python type, which every
        # backend's driver takes as is: only the other columns go through the field's prep
        # (about half the per-event cost of this sink).
        prepare = [
            None if f.name == "received_at" or type(f) in _READY_FIELDS else f.get_db_prep_save
            for f in fields
        ]
        names = [f.name for f in fields]
        columns = list(zip(names, prepare, strict=True))
        rows = []
        parsed: dict[uuid.UUID, dict[str, Any]] = {}
        for event in events:
            row = _to_row(event)
            if row is None:
                # Retrying cannot fix a malformed event; keep the rest of the batch moving.
                logger.error("DatabaseSink dropped a malformed event: %r", event)
                continue
            row["received_at"] = received_at
            parsed[row["event_id"]] = row
            rows.append(
                [
                    row[name] if prep is None else prep(row[name], connection)
                    for name, prep in columns
                ]
            )
        if not rows:
            return
        ops = connection.ops
        unique = [meta.get_field("event_id")]
        head = (
            f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} "
            f"{ops.quote_name(meta.db_table)} "
            f"({', '.join(ops.quote_name(str(f.column)) for f in fields)}) VALUES "
        )
        suffix = f" {ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, unique)}"
        one = f"({', '.join(['%s'] * len(fields))})"
        # PostgreSQL: multi-row INSERTs that RETURN the ids they stored. SQLite: one
        # executemany (several times faster there than multi-row statements capped at 999
        # parameters); its row count says whether every event was new, the usual case.
        returning = connection.vendor != "sqlite"
        stored: list[dict[str, Any]] = []
        every_one_new = True
        with transaction.atomic(using=alias):
            # Before the insert: a concurrent worker's batch of the same experiment commits
            # first or waits, so "newly stored" is exact.
            if rollup is not None:
                rollup.lock({row["experiment"] for row in parsed.values()}, alias)
            with connection.cursor() as cursor:
                if returning:
                    size = max(1, ops.bulk_batch_size(fields, rows))
                    for start in range(0, len(rows), size):
                        chunk = rows[start : start + size]
                        cursor.execute(
                            f"{head}{', '.join([one] * len(chunk))}{suffix} "
                            f"RETURNING {ops.quote_name('event_id')}",
                            [value for row in chunk for value in row],
                        )
                        stored += [parsed[_uuid(r[0])] for r in cursor.fetchall()]
                else:
                    cursor.executemany(head + one + suffix, rows)
                    # Some were stored before when fewer rows went in: which ones is unknown.
                    every_one_new = cursor.rowcount == len(rows)
                    stored = list(parsed.values())
            if rollup is not None:
                _update_rollups(rollup, parsed, stored, every_one_new, alias)


def _update_rollups(
    rollup: Rollups,
    parsed: Mapping[Any, dict[str, Any]],
    stored: Sequence[Mapping[str, Any]],
    every_one_new: bool,
    alias: str,
) -> None:
    if every_one_new:
        rollup.ingest(stored, alias)
        return
    # A (partly) redelivered batch: recompute every context it touched, which gives the same
    # rollups whatever was stored before.
    touched: dict[str, set[str]] = {}
    for row in parsed.values():
        touched.setdefault(row["experiment"], set()).add(row["key"])
    for experiment, keys in touched.items():
        rollup.refresh(experiment, keys, using=alias)


class Rollups(Protocol):
    """What the database sink asks of the results rollups, in the batch's transaction."""

    def lock(self, experiments: Iterable[str], using: str) -> None: ...

    def ingest(self, stored: Sequence[Mapping[str, Any]], using: str | None = None) -> None: ...

    def refresh(self, stored_name: str, keys: Iterable[str], using: str | None = None) -> None: ...


#: The results rollups (``django_experiments.results.rollup``), wired in ``ready()``
#: (wiring.py): tracking does not import the results package, which imports tracking.
rollups: Rollups | None = None


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


_READY_FIELDS = (
    models.CharField,
    models.FloatField,
    models.BooleanField,
    models.PositiveIntegerField,
)


def _to_row(event: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        value = event.get("value")
        return {
            "event_id": uuid.UUID(str(event["id"])),
            "event": str(event["event"])[:100],
            "experiment": str(event["experiment"])[:100],
            "variant": str(event["variant"])[:100],
            "key": str(event["key"])[:64],
            "migration_keys": list(event.get("migration_keys") or []),
            "value": None if value is None else float(value),
            "properties": dict(event.get("properties") or {}),
            "timestamp": datetime.fromisoformat(str(event["timestamp"])),
            "phase": _phase(event.get("phase")),
            # Events from before producers sent the flag were never forced.
            "forced": event.get("forced") is True,
            "holdout": event.get("holdout") is True,
        }
    except (KeyError, TypeError, ValueError):
        return None


def _phase(value: Any) -> int | None:
    """A phase number, or None: results then place the event by its timestamp, so a bad
    ``phase`` costs the event nothing (dropping it would lose a real exposure)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        return None
    return value


class CallableSink(Sink):
    """Calls the function at ``TRACKING_CALLABLE`` with the batch (a list of event dicts).

    The Django counterpart of gitlab-experiment's ``tracking_behavior``: forward events to
    Snowplow, Segment, statsd... Raise to have the batch retried.
    """

    name = "callable"

    def __init__(self, func: Any = None) -> None:
        self.func = func

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        func = self.func
        if func is None:
            path = settings.TRACKING_CALLABLE
            if not path:
                raise SinkError("CallableSink needs DJANGO_EXPERIMENTS['TRACKING_CALLABLE']")
            func = import_string(path)
        func(list(events))


def get_sink(path: str) -> Sink:
    """Instantiate the sink class at ``path`` (settings are read at send time)."""
    cls = import_string(path)
    sink: Sink = cls()
    if not callable(getattr(sink, "send", None)):
        raise SinkError(f"{path} is not a sink (no send method)")
    return sink
