"""The results rollups, kept up to date as events land.

DatabaseSink calls :func:`refresh` in the transaction that stores a batch, for the contexts the
batch touched. Each context's rows (ContextExposure, ContextConversion) are recomputed from
all of its stored events, not incremented, so a batch delivered twice, or an exposure that
arrives after the context's conversions, leaves the same rows as an in-order, exactly-once
delivery. The change between a context's old and new rows is then added to the daily rollups
(DailyExposure, DailyConversion), which is all the results read: a few rows per day and
variant, whatever the traffic.

Attribution (docs/results.md):

- a context belongs to the phase of its FIRST non-forced exposure (the event's ``phase``, or
  for events without one the phase whose ``[started_at, ended_at)`` holds its timestamp), with
  that exposure's variant;
- its events of another name count only at or after that exposure and before the end of the
  conversion window (``CONVERSION_WINDOWS``), and not when flagged ``forced``.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db import connections, router, transaction

from django_experiments.conf import settings
from django_experiments.models import Experiment, Phase
from django_experiments.tracking.events import ASSIGNMENT
from django_experiments.tracking.models import (
    NO_PHASE,
    ContextConversion,
    ContextExposure,
    DailyConversion,
    DailyExposure,
    TrackedEvent,
)

#: Keys per statement: well under SQLite's bound-parameter limit.
CHUNK = 500

PhaseSpan = tuple[int, datetime, datetime | None]


def experiment_for(stored_name: str) -> Experiment | None:
    """The admin row of an experiment as events name it (``NAME_PREFIX`` applied)."""
    prefix = settings.NAME_PREFIX
    candidates = [stored_name]
    if prefix and stored_name.startswith(f"{prefix}_"):
        candidates.insert(0, stored_name[len(prefix) + 1 :])
    for name in candidates:
        found = Experiment.objects.filter(name=name).first()
        if found is not None and settings.full_name(found.name) == stored_name:
            return found
    return None


def conversion_window(stored_name: str) -> timedelta | None:
    """``CONVERSION_WINDOWS[name]`` (or its ``"*"`` default) in hours; None means unbounded."""
    windows = settings.CONVERSION_WINDOWS or {}
    hours = None
    for name, value in windows.items():
        if name != "*" and settings.full_name(name) == stored_name:
            hours = value
            break
    else:
        hours = windows.get("*")
    return None if hours is None else timedelta(hours=float(hours))


def phase_spans(stored_name: str) -> list[PhaseSpan]:
    experiment = experiment_for(stored_name)
    if experiment is None:
        return []
    return list(
        Phase.objects.filter(experiment=experiment)
        .order_by("number")
        .values_list("number", "started_at", "ended_at")
    )


def phase_at(spans: Sequence[PhaseSpan], when: datetime) -> int | None:
    for number, started_at, ended_at in spans:
        if started_at <= when and (ended_at is None or when < ended_at):
            return number
    return None


def lock(experiments: Iterable[str], using: str) -> None:
    """Serialise refreshes of one experiment (PostgreSQL): a refresh reads every event that was
    committed before it, so two workers never overwrite a newer recomputation with an older one.

    SQLite has one writer at a time already. Taken in sorted order: no deadlock between batches.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in sorted(set(experiments)):
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [0x676C6578, zlib.crc32(name.encode()) - 2**31],
            )


def refresh(stored_name: str, keys: Iterable[str], using: str | None = None) -> None:
    """Recompute the rollups of ``keys`` of one experiment from their stored events.

    Must run inside a transaction holding :func:`lock` for the experiment (DatabaseSink does).
    """
    alias = using or router.db_for_write(TrackedEvent)
    spans = phase_spans(stored_name)
    window = conversion_window(stored_name)
    unique = sorted(set(keys))
    for start in range(0, len(unique), CHUNK):
        _refresh_chunk(stored_name, unique[start : start + CHUNK], spans, window, alias)


ExposureCell = tuple[int, str, date]  # phase (NO_PHASE for none), variant, day
ConversionCell = tuple[int, str, str, date]  # phase, event, variant, day


class Deltas:
    """Changes to the daily rollups: old per-context rows out, new ones in."""

    def __init__(self) -> None:
        self.exposed: dict[ExposureCell, int] = defaultdict(int)
        self.converted: dict[ConversionCell, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0])

    def exposure(self, phase: int | None, variant: str, at: datetime, sign: int) -> None:
        self.exposed[(_phase(phase), variant, _day(at))] += sign

    def conversion(
        self,
        phase: int | None,
        event: str,
        variant: str,
        at: datetime,
        total: float,
        valued: int,
        sign: int,
    ) -> None:
        cell = self.converted[(_phase(phase), event, variant, _day(at))]
        cell[0] += sign
        cell[1] += sign * total
        cell[2] += sign * total * total
        cell[3] += sign * valued


def _phase(phase: int | None) -> int:
    return NO_PHASE if phase is None else phase


def _day(at: datetime) -> date:
    """Exposure days are UTC days: every process agrees whatever its TIME_ZONE."""
    return at.astimezone(dt_timezone.utc).date()


def _refresh_chunk(
    stored_name: str,
    keys: list[str],
    spans: Sequence[PhaseSpan],
    window: timedelta | None,
    alias: str,
) -> None:
    deltas = Deltas()
    old_exposures = ContextExposure.objects.using(alias).filter(
        experiment=stored_name, key__in=keys
    )
    old_conversions = ContextConversion.objects.using(alias).filter(
        experiment=stored_name, key__in=keys
    )
    for phase, variant, at in old_exposures.values_list("phase", "variant", "exposed_at"):
        deltas.exposure(phase, variant, at, -1)
    for phase, event, variant, at, total, valued in old_conversions.values_list(
        "phase", "event", "variant", "exposed_at", "total", "valued"
    ):
        deltas.conversion(phase, event, variant, at, total, valued, -1)
    old_conversions.delete()
    old_exposures.delete()

    first: dict[str, tuple[str, datetime, int | None]] = {}
    # Only exposures are read into Python: a few per context (one per phase at most).
    exposures = (
        TrackedEvent.objects.using(alias)
        .filter(experiment=stored_name, key__in=keys, event=ASSIGNMENT, forced=False)
        .order_by("key", "timestamp", "id")
        .values_list("key", "variant", "timestamp", "phase")
    )
    for key, variant, timestamp, phase in exposures:
        if key not in first:
            first[key] = (variant, timestamp, phase)
    rows = [
        ContextExposure(
            experiment=stored_name,
            key=key,
            phase=phase if phase is not None else phase_at(spans, timestamp),
            variant=variant,
            exposed_at=timestamp,
            window_ends_at=None if window is None else timestamp + window,
        )
        for key, (variant, timestamp, phase) in first.items()
    ]
    if rows:
        _insert(ContextExposure, rows, alias)
        for row in rows:
            deltas.exposure(row.phase, row.variant, row.exposed_at, 1)
        conversions = _conversions(stored_name, {row.key: row for row in rows}, alias)
        _insert(ContextConversion, conversions, alias)
        for c in conversions:
            deltas.conversion(c.phase, c.event, c.variant, c.exposed_at, c.total, c.valued, 1)
    _apply(stored_name, deltas, alias)


def _insert(model: Any, rows: Sequence[Any], alias: str) -> None:
    """One multi-row INSERT: ``bulk_create`` compiles every cell through the SQL compiler
    (which cost the worker more than all the rollup's queries together), and
    ``executemany`` is one statement per row on PostgreSQL."""
    if not rows:
        return
    connection = connections[alias]
    qn = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    row_sql = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} "
        f"({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES {', '.join([row_sql] * len(rows))}"
    )
    datetimes = {f.attname for f in fields if f.get_internal_type() == "DateTimeField"}
    adapt = connection.ops.adapt_datetimefield_value
    values = [
        adapt(getattr(row, f.attname)) if f.attname in datetimes else getattr(row, f.attname)
        for row in rows
        for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


#: "No window" inside SQL: a bound every timestamp is below (a typed value, unlike NULL).
UNBOUNDED = datetime(9999, 12, 31, tzinfo=dt_timezone.utc)


def _conversions(
    stored_name: str, exposed: dict[str, ContextExposure], alias: str
) -> list[ContextConversion]:
    """Per context and event name, the attributed events' count and sum: grouped in SQL.

    The batch's exposures travel as a VALUES list, so each of the batch's contexts is one
    index range of TrackedEvent (experiment, key) and nothing else is read.
    """
    connection = connections[alias]
    qn = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    events = qn(TrackedEvent._meta.db_table)
    keys = sorted(exposed)
    bounds: list[Any] = []
    for key in keys:
        row = exposed[key]
        bounds += [key, adapt(row.exposed_at), adapt(row.window_ends_at or UNBOUNDED)]
    values = ", ".join(["(%s, %s, %s)"] * len(keys))
    placeholders = ", ".join(["%s"] * len(keys))
    sql = f"""
        WITH x(k, since, until) AS (VALUES {values})
        SELECT e.{qn("key")}, e.{qn("event")}, COUNT(*), COALESCE(SUM(e.{qn("value")}), 0),
               COUNT(e.{qn("value")})
        FROM {events} e
        JOIN x ON x.k = e.{qn("key")}
        WHERE e.{qn("experiment")} = %s AND e.{qn("key")} IN ({placeholders})
          AND e.{qn("event")} <> %s AND e.{qn("forced")} = %s
          AND e.{qn("timestamp")} >= x.since AND e.{qn("timestamp")} < x.until
        GROUP BY e.{qn("key")}, e.{qn("event")}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*bounds, stored_name, *keys, ASSIGNMENT, False])
        found = cursor.fetchall()
    return [
        ContextConversion(
            experiment=stored_name,
            key=key,
            event=event,
            phase=exposed[key].phase,
            variant=exposed[key].variant,
            exposed_at=exposed[key].exposed_at,
            count=count,
            total=float(total),
            valued=valued,
        )
        for key, event, count, total, valued in found
    ]


def _apply(stored_name: str, deltas: Deltas, alias: str) -> None:
    """Add the deltas to the daily rollups: one upsert statement per table."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    exposed = [
        (stored_name, phase, variant, day, n)
        for (phase, variant, day), n in deltas.exposed.items()
        if n
    ]
    converted = [
        (stored_name, phase, event, variant, day, int(c[0]), c[1], c[2], int(c[3]))
        for (phase, event, variant, day), c in deltas.converted.items()
        if any(c)
    ]
    with connection.cursor() as cursor:
        if exposed:
            table = qn(DailyExposure._meta.db_table)
            cursor.executemany(
                f"""INSERT INTO {table} ({qn("experiment")}, {qn("phase")}, {qn("variant")},
                    {qn("day")}, {qn("exposed")}) VALUES (%s, %s, %s, %s, %s)
                    ON CONFLICT ({qn("experiment")}, {qn("phase")}, {qn("variant")}, {qn("day")})
                    DO UPDATE SET {qn("exposed")} = {table}.{qn("exposed")}
                        + excluded.{qn("exposed")}""",
                [_prep(row, connection) for row in exposed],
            )
        if converted:
            table = qn(DailyConversion._meta.db_table)
            sums = ("converted", "total", "squares", "valued")
            add = ", ".join(f"{qn(c)} = {table}.{qn(c)} + excluded.{qn(c)}" for c in sums)
            cursor.executemany(
                f"""INSERT INTO {table} ({qn("experiment")}, {qn("phase")}, {qn("event")},
                    {qn("variant")}, {qn("day")}, {", ".join(qn(c) for c in sums)})
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                    ON CONFLICT ({qn("experiment")}, {qn("phase")}, {qn("event")},
                                 {qn("variant")}, {qn("day")})
                    DO UPDATE SET {add}""",
                [_prep(row, connection) for row in converted],
            )


def _prep(row: tuple[Any, ...], connection: Any) -> list[Any]:
    return [connection.ops.adapt_datefield_value(v) if isinstance(v, date) else v for v in row]


def rebuild(stored_name: str, using: str | None = None) -> int:
    """Recompute every rollup of an experiment from its events (after an upgrade, or after
    changing its conversion window). Returns the number of contexts refreshed."""
    alias = using or router.db_for_write(TrackedEvent)
    with transaction.atomic(using=alias):
        lock([stored_name], alias)
        for model in (ContextConversion, ContextExposure, DailyConversion, DailyExposure):
            model.objects.using(alias).filter(experiment=stored_name).delete()
    done = 0
    last = ""
    while True:
        # Keyset pages, not one server-side cursor: each page commits on its own.
        page = list(
            TrackedEvent.objects.using(alias)
            .filter(experiment=stored_name, key__gt=last)
            .order_by("key")
            .values_list("key", flat=True)
            .distinct()[: CHUNK * 4]
        )
        if not page:
            return done
        with transaction.atomic(using=alias):
            lock([stored_name], alias)
            refresh(stored_name, page, using=alias)
        done += len(page)
        last = page[-1]
