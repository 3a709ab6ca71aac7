"""Section 5: tracking cost on the request path and worker shipping throughput.

Request path: inside a bound scope, ``exp.track()`` k times, then ``flush_scope(scope)`` as the
middleware does at response end — eager off, a real broker (RabbitMQ on 127.0.0.1), the batch
published as one ``deliver`` task. Worker: one Celery worker process (solo pool) consuming the
benchmark's own queue into the database sink; throughput = events stored / wall time from the
first publish to the last row.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import profiling
from benchmarks.proposals import ENV, applied
from benchmarks.report import Report, Row, fmt_us
from benchmarks.timing import Case, IdSource, Plan, compare

ROOT = Path(__file__).resolve().parent.parent
REQUEST_BUDGET_US = 20.0
WORKER_BUDGET = 20_000.0
#: How often the harness counts stored rows; frequent COUNT(*)s on the table being written
#: keep SQLite from checkpointing its WAL and slow the worker down, so poll sparingly.
POLL_SECONDS = 0.25
REQUEST_PROPOSALS = ("cheap_publish", "cheap_events")
WORKER_PROPOSALS = ("lean_database_sink",)
OP_REQUEST = "tracking: request-path cost per event (buffer + enqueue, real broker)"
OP_WORKER = "tracking: worker shipping to the database sink (events/s, 1 worker)"


def _broker_ok(app: Any) -> str | None:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"broker {app.conf.broker_url} unreachable ({type(exc).__name__})"
    return None


def _purge(app: Any, queue: str) -> None:
    """Empty only the benchmark's queue (never ``control.purge()``: the broker is shared)."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        with contextlib.suppress(Exception):  # the queue may not exist yet
            channel.queue_purge(queue)


def _checkpoint() -> None:
    """Fold SQLite's WAL back into the database so every worker run starts alike."""
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _stored(model: Any) -> int:
    return int(model.objects.count())


def _wait_count(model: Any, target: int, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _stored(model) >= target:
            return time.perf_counter()
        time.sleep(POLL_SECONDS)
    return None


def run(report: Report, plan: Plan, quick: bool) -> None:
    try:
        from django_experiments.tracking import dispatch, events
        from django_experiments.tracking.models import TrackedEvent  # noqa: F401 - must exist
        from django_experiments.tracking.tasks import deliver  # noqa: F401 - must exist
    except ImportError as exc:
        reason = f"tracking pipeline incomplete ({exc})"
        report.not_run("5", OP_REQUEST, f"≤ {REQUEST_BUDGET_US:g} µs", reason)
        report.not_run("5", OP_WORKER, f"≥ {WORKER_BUDGET:,.0f}/s", reason)
        return
    from benchmarks.celery_app import app
    from django_experiments import experiment
    from django_experiments.conf import settings as glex
    from django_experiments.engine.scope import Scope, activate

    problem = _broker_ok(app)
    if app.conf.task_always_eager:
        problem = "Celery is eager"
    if problem is not None:
        report.not_run("5", OP_REQUEST, f"≤ {REQUEST_BUDGET_US:g} µs", problem)
        report.not_run("5", OP_WORKER, f"≥ {WORKER_BUDGET:,.0f}/s", problem)
        return
    queue = str(glex.TRACKING_QUEUE)
    _purge(app, queue)

    # --- request path --------------------------------------------------------------------
    def inputs_for(k: int, ids: IdSource) -> Any:
        def build(repeat: int, calls: int) -> list[tuple[Scope, Any]]:
            out = []
            for uid in ids(repeat, calls):
                scope = Scope()
                with activate(scope):
                    exp = experiment("cta", actor=uid)
                    exp.assigned  # noqa: B018 - resolution is not what is measured here
                out.append((scope, exp))
            return out

        return build

    def request_batch(k: int) -> Any:
        def batch(items: Sequence[tuple[Scope, Any]]) -> None:
            for scope, exp in items:
                with activate(scope):
                    for _ in range(k):
                        exp.track("click", 1)
                dispatch.flush_scope(scope)
                if scope.events:
                    raise AssertionError("flush_scope left events behind")

        return batch

    request_plan = Plan(plan.repeats, max(50, plan.calls // 20))
    per_event: dict[int, float] = {}
    patched_per_event: dict[int, float] = {}
    for k in (1, 10):
        timings = compare(
            {
                "base": Case(request_batch(k), inputs_for(k, IdSource(f"tr{k}-"))),
                "proposal": Case(
                    _with(request_batch(k), REQUEST_PROPOSALS),
                    inputs_for(k, IdSource(f"tp{k}-")),
                ),
            },
            request_plan,
        )
        per_event[k] = timings["base"].median_us / k
        patched_per_event[k] = timings["proposal"].median_us / k
    _purge(app, queue)
    report.add(
        Row(
            "5",
            OP_REQUEST + ", 1 event / request",
            fmt_us(per_event[1]),
            f"10 events / request: {fmt_us(per_event[10])} per event",
            budget=f"≤ {REQUEST_BUDGET_US:g} µs",
            passed=per_event[1] <= REQUEST_BUDGET_US,
        )
    )
    report.add(
        Row(
            "5*",
            "  scratch proposal: kwargsrepr on publish + no JSON round trip for {} properties",
            fmt_us(patched_per_event[1]),
            f"10 events / request: {fmt_us(patched_per_event[10])} per event",
            budget=f"≤ {REQUEST_BUDGET_US:g} µs",
            passed=patched_per_event[1] <= REQUEST_BUDGET_US,
        )
    )

    # --- worker throughput ---------------------------------------------------------------
    total = 10_000 if quick else 50_000
    with activate(Scope()):
        template = events.build_event(experiment("cta", actor="tracking-template"), "click", 1, {})
    rates: dict[str, float] = {}
    publish_rates: dict[str, float] = {}
    failures: dict[str, str] = {}
    # Alternating base / proposal runs, best of them: one worker's throughput on a machine
    # shared with other work is only ever lowered by disturbances.
    for _ in range(1 if quick else 2):
        for label, proposals in (("", ()), ("*", WORKER_PROPOSALS)):
            try:
                rate, publish_rate = _worker_rate(app, queue, template, total, proposals)
            except RuntimeError as exc:
                failures[label] = str(exc)
                continue
            if rate > rates.get(label, 0.0):
                rates[label], publish_rates[label] = rate, publish_rate
    for label in ("", "*"):
        if label not in rates:
            report.add(
                Row(
                    "5" + label,
                    OP_WORKER,
                    f"failed: {failures.get(label, '?')}",
                    budget=f"≥ {WORKER_BUDGET:,.0f}/s",
                    passed=False,
                )
            )
            continue
        rate, publish_rate = rates[label], publish_rates[label]
        operation = (
            OP_WORKER
            if not label
            else ("  scratch proposal: DatabaseSink.send as one executemany INSERT … ON CONFLICT")
        )
        report.add(
            Row(
                "5" + label,
                operation,
                f"{rate:,.0f} events/s",
                f"publish side {publish_rate:,.0f} events/s",
                budget=f"≥ {WORKER_BUDGET:,.0f}/s",
                passed=rate >= WORKER_BUDGET,
            )
        )
    if per_event[1] > REQUEST_BUDGET_US or rates.get("", 0.0) < WORKER_BUDGET:
        report.findings.append(_finding(per_event, patched_per_event, rates))
    size = max(1, int(glex.TRACKING_BATCH_SIZE))
    report.notes.append(
        f"Section 5: {total:,} events in batches of {size} (TRACKING_BATCH_SIZE), broker "
        f"{app.conf.broker_url.split('@')[-1]}, queue {queue!r}, database sink on SQLite (WAL), "
        f"best of {1 if quick else 2} alternating worker runs; request path timed as the "
        "median of N repeats, base and proposal interleaved. One worker's throughput on this "
        "shared 2-core machine (worker, RabbitMQ, SQLite and other work on the same cores) "
        "varies widely from run to run: compare the base and proposal rows of one run."
    )


def _worker_rate(
    app: Any, queue: str, template: dict[str, Any], total: int, proposals: Sequence[str]
) -> tuple[float, float]:
    """Start one worker (with ``proposals`` applied), ship ``total`` events, stop it."""
    from django_experiments.conf import settings as glex
    from django_experiments.tracking import dispatch
    from django_experiments.tracking.models import TrackedEvent

    TrackedEvent.objects.all().delete()
    _checkpoint()
    _purge(app, queue)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "PYTHONPATH": str(ROOT),
        ENV: ",".join(proposals),
    }
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in the finally below
        mode="w+", prefix="glex-bench-worker-", suffix=".log", delete=False
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "benchmarks.celery_app",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "-Q",
            queue,
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        dispatch.enqueue([{**template, "id": str(uuid.uuid4())} for _ in range(10)])
        if _wait_count(TrackedEvent, 10, timeout=60) is None:
            log.seek(0)
            raise RuntimeError(
                "the worker stored no warm-up event within 60 s; worker log: " + log.read()[-800:]
            )
        size = max(1, int(glex.TRACKING_BATCH_SIZE))
        batches = [
            [{**template, "id": str(uuid.uuid4())} for _ in range(size)]
            for _ in range(total // size)
        ]
        start = time.perf_counter()
        for batch in batches:
            dispatch.enqueue(batch)
        published = time.perf_counter()
        done = _wait_count(TrackedEvent, 10 + total, timeout=240)
        if done is None:
            raise RuntimeError(f"{_stored(TrackedEvent) - 10} of {total} events stored in 240 s")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        _purge(app, queue)
        log.seek(0)
        problems = [
            line
            for line in log.read().splitlines()
            if "ERROR" in line or "Traceback" in line or "locked" in line or "failed" in line
        ]
        log.close()
        os.unlink(log.name)
        if problems:
            print(f"worker reported {len(problems)} error line(s), e.g. {problems[0][:300]}")
    return total / (done - start), total / (published - start)


def _with(batch: Callable[[Sequence[Any]], None], names: Sequence[str]) -> Any:
    def run(items: Sequence[Any]) -> None:
        with applied(*names):
            batch(items)

    return run


def _finding(
    per_event: dict[int, float], patched: dict[int, float], rates: dict[str, float]
) -> str:
    from celery.app.amqp import AMQP

    from django_experiments.tracking import dispatch, events, sinks

    before, after = rates.get(""), rates.get("*")
    worker = f"{before:,.0f} → {after:,.0f} events/s" if before and after else "not measured"
    return "\n".join(
        [
            f"### 5. Tracking: {fmt_us(per_event[1])} per event on the request path "
            f"(1 event/request; {fmt_us(per_event[10])} at 10), worker "
            f"{before or 0:,.0f} events/s",
            "",
            "- Request path, hot spot 1: every publish makes Celery build "
            f"`saferepr(kwargs)` of the whole batch for the message headers "
            f"(`{profiling.where(AMQP.as_task_v2)}`), called from "
            f"`{profiling.where(dispatch.publish)}` `publish`. Proposal: pass "
            '`argsrepr`/`kwargsrepr` (e.g. `"<n events>"`) to `apply_async`.',
            f"- Request path, hot spot 2: `{profiling.where(events.validate_properties)}` "
            "`validate_properties` JSON-encodes and decodes even an empty dict; "
            f"`{profiling.where(events.build_event)}` `build_event` also pays uuid4 + "
            "isoformat per event. Proposal: return `{}` for empty properties.",
            f"- Both measured (scratch patches `cheap_publish` + `cheap_events`): "
            f"{fmt_us(per_event[1])} → {fmt_us(patched[1])} per event at 1 event/request, "
            f"{fmt_us(per_event[10])} → {fmt_us(patched[10])} at 10. What remains is one "
            "synchronous AMQP publish per request (a loopback round trip plus kombu framing, "
            "a few hundred µs here): ≤ 20 µs per event with one event per request is out of "
            "reach while the request publishes synchronously. Proposal: hand the batch to a "
            "process-local background publisher (bounded queue, outbox on overflow/crash), "
            "so the request path is only the buffer append.",
            f"- Worker, hot spot: `{profiling.where(sinks.DatabaseSink.send)}` "
            "`DatabaseSink.send` uses `bulk_create`, which builds a model instance and runs "
            "the SQL compiler's per-field prepare/pre_save for every cell. Proposal: prepare "
            "columns with `get_db_prep_save` and `cursor.executemany` one INSERT … ON CONFLICT "
            f"(event_id) DO NOTHING (still idempotent). Measured: {worker}.",
        ]
    )
