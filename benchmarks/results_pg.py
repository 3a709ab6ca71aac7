"""Child process of section 8 (bench_results): results over a million events on PostgreSQL.

Run as ``python -m benchmarks.results_pg --events N`` with ``BENCH_RESULTS_DATABASE_URL``; it
prints one JSON line of measurements on stdout. A process of its own so that its memory is
the web process's alone and its database is not the other sections' SQLite.

Raw events are generated inside PostgreSQL (``generate_series``): N exposures of N contexts
and N conversion events ("clicked" without value, "purchase" with one) of 40 % of them, over
14 days. The rollups are then built by the same code the worker runs (``rollup.rebuild``),
and the figure that has a budget is the median time of the full results computation (grouped
SQL + statistics) that the admin page and the JSON URL call.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPAN_SECONDS = 14 * 24 * 3600


def _setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.results_settings"
    _ensure_database(os.environ["BENCH_RESULTS_DATABASE_URL"])
    import django

    django.setup()


def _ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _generate(experiment: str, n: int) -> None:
    """N exposures and N conversion events in the experiment's current phase, by SQL."""
    from django.db import connection

    from django_experiments.models import Experiment
    from django_experiments.tracking.models import TrackedEvent

    phase = Experiment.objects.get(name=experiment).current_phase
    assert phase is not None
    started, number = phase.started_at, phase.number
    table = connection.ops.quote_name(TrackedEvent._meta.db_table)
    columns = (
        '(event_id, event, experiment, variant, "key", migration_keys, value, properties, '
        '"timestamp", received_at, phase, forced, holdout)'
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} {columns}
            SELECT gen_random_uuid(), 'assignment', %(exp)s,
                   CASE WHEN i %% 2 = 0 THEN 'control' ELSE 'candidate' END,
                   md5(%(exp)s || i::text), '[]', NULL, '{{}}',
                   %(start)s + (i::float8 * %(span)s / %(n)s) * interval '1 second',
                   now(), %(phase)s, false, false
            FROM generate_series(0, %(n)s - 1) AS i""",
            {"exp": experiment, "start": started, "span": SPAN_SECONDS, "n": n, "phase": number},
        )
        cap = max(1, n * 2 // 5)
        cursor.execute(
            f"""INSERT INTO {table} {columns}
            SELECT gen_random_uuid(),
                   CASE WHEN k %% 2 = 0 THEN 'clicked' ELSE 'purchase' END, %(exp)s,
                   CASE WHEN j %% 2 = 0 THEN 'control' ELSE 'candidate' END,
                   md5(%(exp)s || j::text), '[]',
                   CASE WHEN k %% 2 = 1 THEN (k %% 50) + 1 + (j %% 2) * 3 END, '{{}}',
                   %(start)s + (j::float8 * %(span)s / %(n)s + k %% 3600) * interval '1 second',
                   now(), %(phase)s, false, false
            FROM (SELECT k, k %% %(cap)s AS j FROM generate_series(0, %(n)s - 1) AS k) AS s""",
            {
                "exp": experiment,
                "start": started,
                "span": SPAN_SECONDS,
                "n": n,
                "cap": cap,
                "phase": number,
            },
        )
        cursor.execute(f"ANALYZE {table}")


def _prepare(experiment: str, n: int) -> dict[str, float]:
    from django.db import connection

    from django_experiments.models import Experiment, Status, Treatment
    from django_experiments.results import rollup
    from django_experiments.services import record_change
    from django_experiments.tracking.models import (
        ContextConversion,
        ContextExposure,
        TrackedEvent,
    )

    stored = {"exposures": 0, "conversions": 0}
    existing = Experiment.objects.filter(name=experiment).first()
    if existing is not None:
        stored["exposures"] = ContextExposure.objects.filter(experiment=experiment).count()
        stored["conversions"] = TrackedEvent.objects.filter(experiment=experiment).count()
    if existing is not None and stored["exposures"] == n and stored["conversions"] == 2 * n:
        return {"generate_s": 0.0, "rebuild_s": 0.0, "reused": 1.0}
    Experiment.objects.filter(name=experiment).delete()
    for model in (TrackedEvent, ContextExposure, ContextConversion):
        model.objects.filter(experiment=experiment).delete()
    exp = Experiment.objects.create(name=experiment)
    for order, name in enumerate(("control", "candidate")):
        Treatment.objects.create(experiment=exp, name=name, weight=1, is_control=order == 0)
    exp.status = Status.RUNNING
    exp.save()
    record_change(exp.pk)  # saving the treatments opened phases already: idempotent
    phase = exp.current_phase
    assert phase is not None
    phase.started_at -= timedelta(days=15)
    phase.save(update_fields=["started_at"])
    began = time.perf_counter()
    _generate(experiment, n)
    generated = time.perf_counter() - began
    began = time.perf_counter()
    rollup.rebuild(experiment)
    rebuilt = time.perf_counter() - began
    with connection.cursor() as cursor:
        for model in (ContextExposure, ContextConversion):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return {"generate_s": generated, "rebuild_s": rebuilt, "reused": 0.0}


def _ingest(n: int) -> float:
    """Events per second through DatabaseSink.send (insert + rollup refresh), batches of 500."""
    import uuid

    from django.utils import timezone

    from django_experiments.tracking.models import (
        ContextConversion,
        ContextExposure,
        TrackedEvent,
    )
    from django_experiments.tracking.sinks import DatabaseSink

    name = "bench_ingest"
    for model in (TrackedEvent, ContextExposure, ContextConversion):
        model.objects.filter(experiment=name).delete()
    now = timezone.now()
    events: list[dict[str, Any]] = []
    for i in range(n // 2):
        key = f"k{i}"
        variant = "control" if i % 2 else "candidate"
        for event, offset in (("assignment", 0), ("clicked", 1)):
            events.append(
                {
                    "id": str(uuid.uuid4()),
                    "event": event,
                    "experiment": name,
                    "variant": variant,
                    "key": key,
                    "value": None,
                    "properties": {},
                    "timestamp": (now + timedelta(seconds=offset)).isoformat(),
                    "phase": 1,
                    "forced": False,
                }
            )
    sink = DatabaseSink()
    began = time.perf_counter()
    for start in range(0, len(events), 500):
        sink.send(events[start : start + 500])
    return len(events) / (time.perf_counter() - began)


def _rebuild(experiment: str) -> float:
    """Seconds to rebuild the rollups of an already generated experiment (current code)."""
    from django_experiments.results import rollup

    began = time.perf_counter()
    rollup.rebuild(experiment)
    return time.perf_counter() - began


def _measure(experiment: str, repeats: int) -> dict[str, float]:
    from django_experiments.models import Experiment
    from django_experiments.results import results_for

    exp = Experiment.objects.get(name=experiment)
    results_for(exp)  # warm: plans, connection
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        report = results_for(exp)
        times.append(time.perf_counter() - began)
    gc.collect()
    tracemalloc.start()
    report = results_for(exp)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    exposed = sum(v.exposed for v in report.variants)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "peak_kib": peak / 1024,
        "exposed": float(exposed),
        "metrics": float(len(report.metrics)),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--ingest", type=int, default=20_000)
    args = parser.parse_args()
    _setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    small = max(1, args.events // 10)
    out: dict[str, Any] = {"events": args.events, "small_events": small}
    out["small_prepare"] = _prepare("bench_small", small)
    out["prepare"] = _prepare("bench_results", args.events)
    out["rebuild_small_s"] = _rebuild("bench_small")
    out["small"] = _measure("bench_small", args.repeats)
    out["large"] = _measure("bench_results", args.repeats)
    out["ingest_eps"] = _ingest(args.ingest)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
