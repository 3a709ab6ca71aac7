"""The results rollups (ContextExposure, ContextConversion), kept up to date as events land.

DatabaseSink calls :func:`refresh` in the transaction that stores a batch, for the contexts the
batch touched. Each context's rows are recomputed from all of its stored events, not
incremented, so a batch delivered twice, or an exposure that arrives after the context's
conversions, leaves the same rows as an in-order, exactly-once delivery. Results then read
one row per exposed context instead of every raw event.

Attribution (docs/results.md):

- a context belongs to the phase of its FIRST non-forced exposure (the event's ``phase``, or
  for events without one the phase whose ``[started_at, ended_at)`` holds its timestamp), with
  that exposure's variant;
- its events of another name count only at or after that exposure and before the end of the
  conversion window (``CONVERSION_WINDOWS``), and not when flagged ``forced``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db import connections, router, transaction

from django_experiments.conf import settings
from django_experiments.models import Experiment, Phase
from django_experiments.tracking.events import ASSIGNMENT
from django_experiments.tracking.models import ContextConversion, ContextExposure, TrackedEvent

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
    """Recompute both rollups for ``keys`` of one experiment from the stored events.

    Must run inside a transaction holding :func:`lock` for the experiment (DatabaseSink does).
    """
    alias = using or router.db_for_write(TrackedEvent)
    spans = phase_spans(stored_name)
    window = conversion_window(stored_name)
    unique = sorted(set(keys))
    for start in range(0, len(unique), CHUNK):
        _refresh_chunk(stored_name, unique[start : start + CHUNK], spans, window, alias)


def _refresh_chunk(
    stored_name: str,
    keys: list[str],
    spans: Sequence[PhaseSpan],
    window: timedelta | None,
    alias: str,
) -> None:
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
    ContextConversion.objects.using(alias).filter(experiment=stored_name, key__in=keys).delete()
    ContextExposure.objects.using(alias).filter(experiment=stored_name, key__in=keys).delete()
    if not first:
        return
    ContextExposure.objects.using(alias).bulk_create(
        [
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
    )
    _insert_conversions(stored_name, sorted(first), alias)


def _insert_conversions(stored_name: str, keys: list[str], alias: str) -> None:
    """One grouped INSERT ... SELECT: the events themselves never leave the database."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    events = qn(TrackedEvent._meta.db_table)
    exposure = qn(ContextExposure._meta.db_table)
    conversion = qn(ContextConversion._meta.db_table)
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
    placeholders = ", ".join(["%s"] * len(keys))
    sql = f"""
        INSERT INTO {conversion} ({columns})
        SELECT x.{qn("experiment")}, x.{qn("key")}, e.{qn("event")}, x.{qn("phase")},
               x.{qn("variant")}, x.{qn("exposed_at")}, COUNT(*),
               COALESCE(SUM(e.{qn("value")}), 0), COUNT(e.{qn("value")})
        FROM {events} e
        JOIN {exposure} x
          ON x.{qn("experiment")} = e.{qn("experiment")} AND x.{qn("key")} = e.{qn("key")}
        WHERE x.{qn("experiment")} = %s AND x.{qn("key")} IN ({placeholders})
          AND e.{qn("event")} <> %s AND e.{qn("forced")} = %s
          AND e.{qn("timestamp")} >= x.{qn("exposed_at")}
          AND (x.{qn("window_ends_at")} IS NULL
               OR e.{qn("timestamp")} < x.{qn("window_ends_at")})
        GROUP BY x.{qn("experiment")}, x.{qn("key")}, e.{qn("event")}, x.{qn("phase")},
                 x.{qn("variant")}, x.{qn("exposed_at")}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [stored_name, *keys, ASSIGNMENT, False])


def rebuild(stored_name: str, using: str | None = None) -> int:
    """Recompute the rollups of every context of an experiment (after an upgrade, or after
    changing its conversion window). Returns the number of contexts refreshed."""
    alias = using or router.db_for_write(TrackedEvent)
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
