"""The results rollups, kept up to date as events land.

DatabaseSink calls :func:`ingest` in the transaction that stores a batch, with the events that
were newly stored (a redelivered event is not). A context's rows (ContextExposure,
ContextConversion) are recomputed from all of its stored events (:func:`refresh`) when a new
first exposure arrives; later events of an exposed context are added to them. Either way the
result equals a recomputation from scratch (:func:`rebuild`), whatever the delivery order. The
change between a context's old and new rows is added to the daily rollups (DailyExposure,
DailyConversion), which is all the results read: a few rows per day and variant, whatever
the traffic.

Attribution (docs/results.md):

- a context belongs to the phase of its FIRST exposure (the event's ``phase``, or for events
  without one the phase whose ``[started_at, ended_at)`` holds its timestamp), with that
  exposure's variant;
- a context with ANY forced exposure to the experiment (``glex_force`` or an explicit variant)
  is left out of it altogether: the forced variant is stored, so the context's later,
  unflagged exposures show a variant chosen by hand, not by the randomisation;
- its events of another name count only at or after that exposure and before the end of the
  conversion window (``CONVERSION_WINDOWS``), and not when flagged ``forced``;
- a context whose first exposure was flagged ``holdout`` is rolled up under the variant
  :data:`HOLDOUT_VARIANT` (no slug can be spelt so): the report compares it with everyone
  else and keeps it out of the per-variant analysis.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any, NamedTuple

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

#: The rollups' variant of contexts exposed in a holdout (they were served control).
HOLDOUT_VARIANT = ":holdout"


def _rolled_up_variant(variant: str, holdout: Any) -> str:
    return HOLDOUT_VARIANT if holdout else variant


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


def ingest(stored: Sequence[Mapping[str, Any]], using: str | None = None) -> None:
    """Update the rollups with events DatabaseSink has just stored (each exactly once).

    Per context: a new exposure that is its first (or earlier than the known first), or any
    forced exposure (the context then leaves the analysis), recomputes the context from all
    its stored events (:func:`refresh`: conversions that arrived before the exposure are
    picked up then). Otherwise the new conversions of an
    exposed context inside its window are added to its rows, at a cost that depends on the
    batch only, never on how many events the context already has. Conversions of contexts not
    exposed yet wait for their exposure. Must run in the sink's transaction, under
    :func:`lock`.
    """
    alias = using or router.db_for_write(TrackedEvent)
    by_experiment: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in stored:
        # A forced exposure takes the context out of the analysis (the refresh drops its
        # rows); other forced events are simply not counted.
        if not row["forced"] or row["event"] == ASSIGNMENT:
            by_experiment[row["experiment"]].append(row)
    for stored_name, rows in by_experiment.items():
        keys = sorted({row["key"] for row in rows})
        for start in range(0, len(keys), CHUNK):
            chunk = set(keys[start : start + CHUNK])
            _ingest_chunk(stored_name, [r for r in rows if r["key"] in chunk], alias)


def _ingest_chunk(stored_name: str, rows: list[Mapping[str, Any]], alias: str) -> None:
    connection = connections[alias]
    qn = connection.ops.quote_name
    keys = sorted({row["key"] for row in rows})
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn('key')}, {qn('phase')}, {qn('variant')}, {qn('exposed_at')}, "
            f"{qn('window_ends_at')} FROM {qn(ContextExposure._meta.db_table)} "
            f"WHERE {qn('experiment')} = %s "
            f"AND {qn('key')} IN ({', '.join(['%s'] * len(keys))})",
            [stored_name, *keys],
        )
        current = {
            key: (phase, variant, _aware(at), _aware(until) if until is not None else UNBOUNDED)
            for key, phase, variant, at, until in cursor.fetchall()
        }
    recompute = {
        row["key"]
        for row in rows
        if row["event"] == ASSIGNMENT
        and (
            row["forced"]
            or row["key"] not in current
            or _aware(row["timestamp"]) < current[row["key"]][2]
        )
    }
    if recompute:
        refresh(stored_name, recompute, using=alias)
    added: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        key = row["key"]
        if row["event"] == ASSIGNMENT or key in recompute or key not in current:
            continue
        at = _aware(row["timestamp"])
        if not current[key][2] <= at < current[key][3]:
            continue
        value = row["value"]
        cell = added.setdefault((key, row["event"]), [0, 0.0, 0])
        cell[0] += 1
        cell[1] += value or 0.0
        cell[2] += value is not None
    if added:
        _add_conversions(stored_name, added, current, alias)


def _add_conversions(
    stored_name: str,
    added: dict[tuple[str, str], list[float]],
    current: Mapping[str, tuple[int | None, str, datetime, datetime]],
    alias: str,
) -> None:
    """Add new attributed events to ContextConversion (upsert) and their effect on the
    contexts' values to the daily rollups."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    table = qn(ContextConversion._meta.db_table)
    keys = sorted({key for key, _ in added})
    deltas = Deltas()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn('key')}, {qn('event')}, {qn('total')} FROM {table} "
            f"WHERE {qn('experiment')} = %s "
            f"AND {qn('key')} IN ({', '.join(['%s'] * len(keys))})",
            [stored_name, *keys],
        )
        before = {(key, event): total for key, event, total in cursor.fetchall()}
        flat: list[Any] = []
        for (key, event), (count, total, valued) in added.items():
            phase, variant, at, _ = current[key]
            old = before.get((key, event))
            if old is None:
                deltas.conversion(phase, event, variant, at, total, int(valued), 1)
            else:
                # The context's value moves from old to old + total: replace its contribution.
                deltas.conversion(phase, event, variant, at, old, 0, -1)
                deltas.conversion(phase, event, variant, at, old + total, int(valued), 1)
            flat += [stored_name, key, event, phase, variant, adapt(at), int(count), total]
            flat.append(int(valued))
        sums = ("count", "total", "valued")
        columns = ", ".join(
            qn(c) for c in ("experiment", "key", "event", "phase", "variant", "exposed_at", *sums)
        )
        update = ", ".join(f"{qn(c)} = {table}.{qn(c)} + excluded.{qn(c)}" for c in sums)
        row_sql = "(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(added))} "
            f"ON CONFLICT ({qn('experiment')}, {qn('key')}, {qn('event')}) "
            f"DO UPDATE SET {update}",
            flat,
        )
    _apply(stored_name, deltas, alias)


def refresh(stored_name: str, keys: Iterable[str], using: str | None = None) -> None:
    """Recompute the rollups of ``keys`` of one experiment from their stored events.

    Must run inside a transaction holding :func:`lock` for the experiment (DatabaseSink does).
    """
    alias = using or router.db_for_write(TrackedEvent)
    window = conversion_window(stored_name)
    unique = sorted(set(keys))
    for start in range(0, len(unique), CHUNK):
        # Phases are read only when an exposure lacks its ``phase`` (older producers).
        _refresh_chunk(stored_name, unique[start : start + CHUNK], None, window, alias)


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


class _Exposure(NamedTuple):
    phase: int | None
    variant: str
    at: datetime
    db_at: Any  # ``at`` as the backend stores it (adapted once, written twice)
    db_until: Any  # end of the conversion window, or UNBOUNDED


#: "No window" inside SQL: a bound every timestamp is below (a typed value, unlike NULL).
UNBOUNDED = datetime(9999, 12, 31, tzinfo=dt_timezone.utc)


def _aware(value: Any) -> datetime:
    """A timestamp read by a raw cursor: SQLite may give text or a naive UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt_timezone.utc)
    return value


def _refresh_chunk(
    stored_name: str,
    keys: list[str],
    spans: Sequence[PhaseSpan] | None,
    window: timedelta | None,
    alias: str,
) -> None:
    """Raw SQL and tuples throughout: the ORM's per-row and per-parameter work was most of the
    worker's cost here (this runs for every batch)."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    events = qn(TrackedEvent._meta.db_table)
    exposure_table = qn(ContextExposure._meta.db_table)
    conversion_table = qn(ContextConversion._meta.db_table)
    in_keys = f"{qn('key')} IN ({', '.join(['%s'] * len(keys))})"
    where = f"{qn('experiment')} = %s AND {in_keys}"
    params = [stored_name, *keys]
    deltas = Deltas()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn('phase')}, {qn('variant')}, {qn('exposed_at')} "
            f"FROM {exposure_table} WHERE {where}",
            params,
        )
        for phase, variant, at in cursor.fetchall():
            deltas.exposure(phase, variant, _aware(at), -1)
        cursor.execute(
            f"SELECT {qn('phase')}, {qn('event')}, {qn('variant')}, {qn('exposed_at')}, "
            f"{qn('total')}, {qn('valued')} FROM {conversion_table} WHERE {where}",
            params,
        )
        for phase, event, variant, at, total, valued in cursor.fetchall():
            deltas.conversion(phase, event, variant, _aware(at), total, valued, -1)
        cursor.execute(f"DELETE FROM {conversion_table} WHERE {where}", params)
        cursor.execute(f"DELETE FROM {exposure_table} WHERE {where}", params)
        # Only exposures are read into Python: a few per context (one per phase at most).
        cursor.execute(
            f"SELECT {qn('key')}, {qn('variant')}, {qn('timestamp')}, {qn('phase')}, "
            f"{qn('forced')}, {qn('holdout')} FROM {events} "
            f"WHERE {where} AND {qn('event')} = %s "
            f"ORDER BY {qn('key')}, {qn('timestamp')}, {qn('id')}",
            [*params, ASSIGNMENT],
        )
        first: dict[str, _Exposure] = {}
        hand_picked: set[str] = set()
        for key, served, timestamp, phase, forced, holdout in cursor.fetchall():
            if forced:
                hand_picked.add(key)
            if key in first or key in hand_picked:
                continue
            variant = _rolled_up_variant(served, holdout)
            at = _aware(timestamp)
            if phase is None:
                if spans is None:
                    spans = phase_spans(stored_name)
                phase = phase_at(spans, at)
            until = None if window is None else at + window
            first[key] = _Exposure(phase, variant, at, adapt(at), adapt(until or UNBOUNDED))
        for key in hand_picked:
            first.pop(key, None)
        if first:
            row = "(%s, %s, %s, %s, %s, %s)"
            cursor.execute(
                f"INSERT INTO {exposure_table} ({qn('experiment')}, {qn('key')}, "
                f"{qn('phase')}, {qn('variant')}, {qn('exposed_at')}, {qn('window_ends_at')}) "
                f"VALUES {', '.join([row] * len(first))}",
                [
                    value
                    for key, x in first.items()
                    for value in (
                        stored_name,
                        key,
                        x.phase,
                        x.variant,
                        x.db_at,
                        None if window is None else x.db_until,
                    )
                ],
            )
            for x in first.values():
                deltas.exposure(x.phase, x.variant, x.at, 1)
            _conversions(cursor, qn, stored_name, first, deltas)
    _apply(stored_name, deltas, alias)


def _conversions(
    cursor: Any, qn: Any, stored_name: str, exposed: dict[str, _Exposure], deltas: Deltas
) -> None:
    """Per context and event name, the attributed events' count and sum, grouped in SQL, then
    stored as ContextConversion rows.

    The batch's exposures travel as a VALUES list, so each of the batch's contexts is one
    index range of TrackedEvent (experiment, key) and nothing else is read.
    """
    keys = sorted(exposed)
    bounds: list[Any] = []
    for key in keys:
        x = exposed[key]
        bounds += [key, x.db_at, x.db_until]
    values = ", ".join(["(%s, %s, %s)"] * len(keys))
    placeholders = ", ".join(["%s"] * len(keys))
    events = qn(TrackedEvent._meta.db_table)
    cursor.execute(
        f"""
        WITH x(k, since, until) AS (VALUES {values})
        SELECT e.{qn("key")}, e.{qn("event")}, COUNT(*), COALESCE(SUM(e.{qn("value")}), 0),
               COUNT(e.{qn("value")})
        FROM {events} e
        JOIN x ON x.k = e.{qn("key")}
        WHERE e.{qn("experiment")} = %s AND e.{qn("key")} IN ({placeholders})
          AND e.{qn("event")} <> %s AND e.{qn("forced")} = %s
          AND e.{qn("timestamp")} >= x.since AND e.{qn("timestamp")} < x.until
        GROUP BY e.{qn("key")}, e.{qn("event")}
        """,
        [*bounds, stored_name, *keys, ASSIGNMENT, False],
    )
    found = cursor.fetchall()
    if not found:
        return
    row = "(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    flat: list[Any] = []
    for key, event, count, total, valued in found:
        x = exposed[key]
        flat += [stored_name, key, event, x.phase, x.variant, x.db_at, count, float(total), valued]
        deltas.conversion(x.phase, event, x.variant, x.at, float(total), valued, 1)
    columns = ", ".join(
        qn(c)
        for c in (
            "experiment",
            "key",
            "event",
            "phase",
            "variant",
            "exposed_at",
            "count",
            "total",
            "valued",
        )
    )
    cursor.execute(
        f"INSERT INTO {qn(ContextConversion._meta.db_table)} ({columns}) "
        f"VALUES {', '.join([row] * len(found))}",
        flat,
    )


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
