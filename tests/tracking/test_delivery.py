"""Sinks, per-sink retries, dead letters, the outbox and the flush points (eager Celery).

The real-worker versions of these paths are in test_worker.py; here the example project's
embedded mode (eager Celery) and the broker-less paths are covered.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone as dj_timezone

from django_experiments.engine.scope import Scope
from django_experiments.tracking import flush
from django_experiments.tracking.dispatch import (
    backoff,
    deliver_batch,
    enqueue,
    flush_scope,
    redrive,
)
from django_experiments.tracking.models import DeadLetter, OutboxBatch, TrackedEvent
from django_experiments.tracking.outbox import drain
from django_experiments.tracking.producer import emit
from django_experiments.tracking.sinks import (
    CallableSink,
    DatabaseSink,
    HttpSink,
    LoggingSink,
    SinkError,
)
from tests.tracking.conftest import (
    DB_SINK,
    DEAD_BROKER,
    FAILING_SINK,
    RECORDING_SINK,
    Collector,
    FailingSink,
    RecordingSink,
    make_app,
    use_app,
)

pytestmark = pytest.mark.django_db(transaction=True)

received: list[list[dict[str, Any]]] = []


def collect(events: list[dict[str, Any]]) -> None:
    """The TRACKING_CALLABLE used below."""
    received.append(events)


def event(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "event": "clicked",
        "experiment": "cta",
        "variant": "candidate",
        "key": "k" * 32,
        "value": 1,
        "properties": {"a": 1},
        "timestamp": datetime.now(timezone.utc).isoformat(),
    }
    data.update(overrides)
    return data


# --- sinks -----------------------------------------------------------------------------------


def test_database_sink_is_idempotent_on_event_id() -> None:
    batch = [event(), event(migration_keys=["m" * 32], value=None)]
    DatabaseSink().send(batch)
    DatabaseSink().send(batch)  # redelivery: at least once
    DatabaseSink().send([*batch, event()])
    assert TrackedEvent.objects.count() == 3
    row = TrackedEvent.objects.get(event_id=batch[1]["id"])
    assert (row.migration_keys, row.value, row.variant) == (["m" * 32], None, "candidate")


def test_database_sink_stores_every_column_as_sent() -> None:
    sent = event(
        value=2.5,
        properties={"plan": "pro", "n": [1, 2]},
        migration_keys=["m" * 32],
        timestamp="2026-01-02T03:04:05.678901+00:00",
    )
    before = dj_timezone.now()
    DatabaseSink().send([sent])
    row = TrackedEvent.objects.get()
    assert str(row.event_id) == sent["id"]
    assert (row.event, row.experiment, row.variant, row.key) == (
        "clicked",
        "cta",
        "candidate",
        "k" * 32,
    )
    assert (row.value, row.properties, row.migration_keys) == (
        2.5,
        {"plan": "pro", "n": [1, 2]},
        ["m" * 32],
    )
    assert row.timestamp == datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    assert before <= row.received_at <= dj_timezone.now()


def test_database_sink_drops_malformed_events_but_keeps_the_rest(caplog: Any) -> None:
    good = event()
    DatabaseSink().send([{"id": "not-a-uuid"}, good, {"nonsense": True}])
    assert list(TrackedEvent.objects.values_list("event_id", flat=True)) == [uuid.UUID(good["id"])]
    assert "malformed" in caplog.text


def test_http_sink_posts_json_with_auth_header(collector: Collector) -> None:
    batch = [event(), event()]
    HttpSink(url=collector.url, headers={"Authorization": "Token abc"}).send(batch)
    assert collector.batches == [batch]
    assert collector.headers[0]["Authorization"] == "Token abc"
    assert collector.headers[0]["Content-Type"] == "application/json"


def test_http_sink_raises_on_errors(collector: Collector, tracking_settings: Any) -> None:
    collector.statuses = [500, 404]
    sink = HttpSink(url=collector.url)
    with pytest.raises(SinkError, match="HTTP 500"):
        sink.send([event()])
    with pytest.raises(SinkError, match="HTTP 404"):
        sink.send([event()])
    with pytest.raises(SinkError, match="cannot reach"):
        HttpSink(url="http://127.0.0.1:1/x", timeout=0.5).send([event()])
    tracking_settings(TRACKING_HTTP_URL=None)
    with pytest.raises(SinkError, match="TRACKING_HTTP_URL"):
        HttpSink().send([event()])
    with pytest.raises(SinkError, match="http"):
        HttpSink(url="file:///etc/passwd").send([event()])


def test_callable_and_logging_sinks(tracking_settings: Any, caplog: Any) -> None:
    received.clear()
    tracking_settings(TRACKING_CALLABLE="tests.tracking.test_delivery.collect")
    batch = [event()]
    CallableSink().send(batch)
    assert received == [batch]
    tracking_settings(TRACKING_CALLABLE=None)
    with pytest.raises(SinkError, match="TRACKING_CALLABLE"):
        CallableSink().send(batch)
    with caplog.at_level(logging.INFO, logger="django_experiments.events"):
        LoggingSink().send(batch)
    assert json.loads(caplog.records[-1].getMessage())["id"] == batch[0]["id"]


# --- delivery, retries, dead letters ---------------------------------------------------------


def test_backoff_is_exponential_capped_and_jittered(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_RETRY_BACKOFF=2.0, TRACKING_RETRY_BACKOFF_MAX=10.0)
    for attempt, base in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (9, 10.0)]:
        assert base <= backoff(attempt) <= base * 1.1


def test_a_failing_sink_neither_blocks_nor_duplicates_the_others(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[FAILING_SINK, RECORDING_SINK, DB_SINK])
    batch = [event()]
    outcome = deliver_batch(batch)
    assert outcome == {FAILING_SINK: "retry", RECORDING_SINK: "ok", DB_SINK: "ok"}
    # Eager Celery parks the retry in the outbox, for the failing sink only, after a backoff.
    (row,) = OutboxBatch.objects.all()
    assert (row.sinks, row.attempt, row.events) == ([FAILING_SINK], 2, batch)
    assert row.available_at > dj_timezone.now()
    assert RecordingSink.ids() == [batch[0]["id"]]
    assert TrackedEvent.objects.count() == 1


def test_retries_then_dead_letter_then_redrive(tracking_settings: Any) -> None:
    tracking_settings(
        TRACKING_SINKS=[RECORDING_SINK, FAILING_SINK],
        TRACKING_MAX_ATTEMPTS=3,
        TRACKING_RETRY_BACKOFF=0.0,
    )
    batch = [event(), event()]
    assert enqueue(batch) is True  # eager: delivered inline
    assert FailingSink.calls == 1
    for _ in range(2):
        assert drain(inline=True).drained == 1
    assert FailingSink.calls == 3
    assert OutboxBatch.objects.count() == 0
    letter = DeadLetter.objects.get()
    assert (letter.sink, letter.attempts, letter.state) == (FAILING_SINK, 3, "dead")
    assert "sink is down" in letter.last_error
    assert len(RecordingSink.batches) == 1  # never re-sent to the healthy sink

    # Still failing: re-drive runs another round and the same row goes back to dead.
    assert redrive(DeadLetter.objects.all()) == 1
    for _ in range(2):
        drain(inline=True)
    letter.refresh_from_db()
    assert (letter.state, letter.attempts, letter.redrive_count) == ("dead", 6, 1)
    assert DeadLetter.objects.count() == 1

    # Fixed: re-drive delivers it to that sink alone and marks it delivered.
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])
    letter.sink = RECORDING_SINK
    letter.save()
    assert redrive(DeadLetter.objects.all()) == 1
    letter.refresh_from_db()
    assert letter.state == "delivered"
    assert len(RecordingSink.batches) == 2
    assert redrive(DeadLetter.objects.all()) == 0  # delivered letters are left alone


# --- shipping: one task per request, on commit, outbox when the broker is down --------------


def test_flush_scope_ships_one_batch_per_request(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])
    scope = Scope(events=[event(), event(), event()])
    flush_scope(scope)
    assert scope.events == []
    assert len(RecordingSink.batches) == 1 and len(RecordingSink.batches[0]) == 3
    flush_scope(scope)  # nothing left: no empty task
    assert len(RecordingSink.batches) == 1


def test_large_requests_are_split_by_batch_size(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK], TRACKING_BATCH_SIZE=2)
    flush_scope(Scope(events=[event() for _ in range(5)]))
    assert [len(b) for b in RecordingSink.batches] == [2, 2, 1]


def test_shipping_waits_for_the_transaction_to_commit(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])
    with transaction.atomic():
        flush_scope(Scope(events=[event()]))
        assert RecordingSink.batches == []
    assert len(RecordingSink.batches) == 1
    # Rolled back work does not report events.
    with pytest.raises(RuntimeError), transaction.atomic():
        flush_scope(Scope(events=[event()]))
        raise RuntimeError
    assert len(RecordingSink.batches) == 1


def test_broker_down_writes_the_outbox_and_inline_drain_delivers(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK, DB_SINK])
    batches = [[event()] for _ in range(4)]
    with use_app(make_app(DEAD_BROKER)):
        for batch in batches:
            flush_scope(Scope(events=batch))
        assert sorted(e["id"] for b in OutboxBatch.objects.all() for e in b.events) == sorted(
            b[0]["id"] for b in batches
        )
        rows = OutboxBatch.objects.count()
        assert "enqueue failed" in OutboxBatch.objects.first().last_error  # type: ignore[union-attr]
        out = io.StringIO()
        with pytest.raises(CommandError, match="broker is unavailable"):
            call_command("drain_outbox", stdout=out)
        assert OutboxBatch.objects.count() == rows
        call_command("drain_outbox", "--inline", stdout=out)
    assert f"drained {rows} batch(es); 0 due batch(es) left" in out.getvalue()
    assert OutboxBatch.objects.count() == 0
    assert sorted(RecordingSink.ids()) == sorted(b[0]["id"] for b in batches)
    assert TrackedEvent.objects.count() == 4


def test_drain_skips_batches_not_yet_due_and_respects_limit(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])
    now = dj_timezone.now()
    OutboxBatch.objects.create(events=[event()], available_at=now + timedelta(hours=1))
    for _ in range(3):
        OutboxBatch.objects.create(events=[event()], available_at=now - timedelta(seconds=1))
    result = drain(limit=2)  # eager app: publishing delivers inline
    assert (result.drained, result.remaining, result.broker_down) == (2, 1, False)
    assert drain().drained == 1
    assert OutboxBatch.objects.count() == 1  # the future one
    assert len(RecordingSink.batches) == 3


def test_events_outside_requests_leave_at_once_and_the_command_flag(
    tracking_settings: Any,
) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])
    emit(None, event())
    emit(None, event())
    assert len(RecordingSink.batches) == 2
    assert flush() == 0
    call_command("drain_outbox", "--flush", stdout=io.StringIO())  # still accepted
    assert len(RecordingSink.batches) == 2
    with pytest.raises(CommandError, match="--limit"):
        call_command("drain_outbox", "--limit", "0")


def test_events_tracked_inside_a_celery_task_leave_with_the_task(
    eager_celery: Any, tracking_settings: Any
) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])

    @eager_celery.task(name="tests.tracking.track_in_task")
    def track_in_task() -> None:
        emit(None, event(event="from_task"))

    track_in_task.delay()
    assert [e["event"] for b in RecordingSink.batches for e in b] == ["from_task"]


class BrokenDbSink:
    """A sink whose database work fails for real (a missing table)."""

    def send(self, events: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM glex_no_such_table")


BROKEN_DB_SINK = "tests.tracking.test_delivery.BrokenDbSink"


def test_a_sink_database_error_does_not_break_an_inline_drain(tracking_settings: Any) -> None:
    # On PostgreSQL the drain claims rows inside a transaction; the failing sink's error must
    # stay inside its savepoint so the other sinks, the dead letter and the row delete succeed.
    tracking_settings(
        TRACKING_SINKS=[BROKEN_DB_SINK, RECORDING_SINK, DB_SINK], TRACKING_MAX_ATTEMPTS=1
    )
    for _ in range(2):
        OutboxBatch.objects.create(events=[event()])
    result = drain(inline=True)
    assert (result.drained, result.remaining) == (2, 0)
    assert DeadLetter.objects.filter(sink=BROKEN_DB_SINK).count() == 2
    assert TrackedEvent.objects.count() == 2
    assert len(RecordingSink.batches) == 2
