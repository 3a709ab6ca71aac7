"""End to end with a real broker and a real Celery worker (celery.contrib.testing.worker).

N requests (scopes flushed the way the middleware flushes them) → one task each → the worker
delivers to the database sink and to an HTTP sink on loopback; every event arrives exactly once
by id. Broker down → outbox → broker back → drained. HTTP 500s → retried per sink with
backoff, then dead-lettered and re-driven.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_experiments import experiment
from django_experiments.engine.scope import Scope, activate
from django_experiments.tracking.dispatch import flush_scope, redrive
from django_experiments.tracking.models import DeadLetter, OutboxBatch, TrackedEvent
from django_experiments.tracking.outbox import drain
from tests.tracking.conftest import (
    DB_SINK,
    DEAD_BROKER,
    HTTP_SINK,
    RECORDING_SINK,
    Collector,
    RecordingSink,
    make_app,
    running_worker,
    use_app,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.broker]

N = 12


def requests_with_events(n: int, offset: int = 0) -> list[str]:
    """``n`` requests, each tracking an assignment and a click, flushed at response end."""
    ids: list[str] = []
    for i in range(offset, offset + n):
        with activate(Scope(deferring=True)) as scope:
            exp = experiment("cta", actor=f"visitor-{i}")
            exp.run()
            exp.track("clicked", value=i, position="hero")
        ids += [e["id"] for e in scope.events]
        flush_scope(scope)
        assert scope.events == []
    return ids


@pytest.fixture
def cta(make_experiment: Any) -> None:
    make_experiment("cta")
    # Warm the definitions snapshot so requests made while the worker runs read no tables
    # (SQLite's shared in-memory test DB lets only one connection write at a time).
    experiment("cta", actor="warm-up").decision  # noqa: B018 - no exposure


def stored_ids() -> list[str]:
    return sorted(str(i) for i in TrackedEvent.objects.values_list("event_id", flat=True))


@pytest.mark.parametrize("broker", ["redis_broker", "amqp_broker"])
def test_worker_ships_every_event_once_to_database_and_http(
    request: Any, broker: str, cta: None, collector: Collector, tracking_settings: Any
) -> None:
    url = request.getfixturevalue(broker)
    tracking_settings(
        TRACKING_SINKS=[DB_SINK, HTTP_SINK],
        TRACKING_HTTP_URL=collector.url,
        TRACKING_HTTP_HEADERS={"Authorization": "Bearer test-token"},
    )
    with running_worker(make_app(url)):
        ids = requests_with_events(N)
        # The database sink runs before the HTTP sink in each task: once the collector holds
        # every event, the database does too.
        collector.wait_for(lambda c: len(c.ids) >= len(ids))
    assert len(ids) == 2 * N == len(set(ids))
    assert sorted(collector.ids) == sorted(ids)
    # One POST per task: the publisher merges the requests that queue up while it lingers.
    assert 1 <= collector.hits <= N
    assert {h["Authorization"] for h in collector.headers} == {"Bearer test-token"}
    assert stored_ids() == sorted(ids)
    clicks = TrackedEvent.objects.filter(event="clicked")
    assert sorted(clicks.values_list("value", flat=True)) == [float(i) for i in range(N)]
    assert OutboxBatch.objects.count() == 0
    assert DeadLetter.objects.count() == 0


def test_broker_down_fills_the_outbox_and_draining_delivers_once(
    redis_broker: str, cta: None, collector: Collector, tracking_settings: Any
) -> None:
    tracking_settings(TRACKING_SINKS=[DB_SINK, HTTP_SINK], TRACKING_HTTP_URL=collector.url)
    with use_app(make_app(DEAD_BROKER)):
        started = time.monotonic()
        ids = requests_with_events(N)
        elapsed = time.monotonic() - started
        # Still down: a drain attempt keeps every row.
        assert drain().broker_down is True
    assert elapsed < 0.5 * N, f"a dead broker held requests for {elapsed:.2f}s"
    # The publisher merged queued requests' events: fewer rows than requests, every event once.
    rows = OutboxBatch.objects.count()
    assert 1 <= rows <= N
    assert sorted(e["id"] for b in OutboxBatch.objects.all() for e in b.events) == sorted(ids)

    live = make_app(redis_broker)
    with use_app(live):
        result = drain()
    assert (result.drained, result.broker_down, result.remaining) == (rows, False, 0)
    assert OutboxBatch.objects.count() == 0
    with running_worker(live):
        collector.wait_for(lambda c: len(c.ids) >= len(ids))
    assert sorted(collector.ids) == sorted(ids)
    assert stored_ids() == sorted(ids)


def test_http_500_then_200_is_retried_and_delivered_once(
    redis_broker: str, cta: None, collector: Collector, tracking_settings: Any
) -> None:
    tracking_settings(
        TRACKING_SINKS=[RECORDING_SINK, HTTP_SINK],
        TRACKING_HTTP_URL=collector.url,
        TRACKING_MAX_ATTEMPTS=3,
        TRACKING_RETRY_BACKOFF=0.05,
    )
    collector.statuses = [500]
    with running_worker(make_app(redis_broker)):
        ids = requests_with_events(1)
        collector.wait_for(lambda c: len(c.ids) >= len(ids))
    assert collector.hits == 2
    assert collector.ids == ids
    # The retry was for the HTTP sink alone: the healthy sink got the batch exactly once.
    assert RecordingSink.ids() == ids
    assert DeadLetter.objects.count() == 0


def test_http_always_500_dead_letters_after_max_attempts_and_redrive_works(
    redis_broker: str, cta: None, collector: Collector, tracking_settings: Any
) -> None:
    tracking_settings(
        TRACKING_SINKS=[RECORDING_SINK, HTTP_SINK],
        TRACKING_HTTP_URL=collector.url,
        TRACKING_MAX_ATTEMPTS=3,
        TRACKING_RETRY_BACKOFF=0.05,
    )
    collector.default_status = 500
    app = make_app(redis_broker)
    # The main thread reads the tables only while no worker runs: SQLite's shared in-memory
    # test database lets one connection write at a time, and a reader blocks a writer.
    with running_worker(app):
        ids = requests_with_events(1)
        collector.wait_for(lambda c: c.hits >= 3)
    assert collector.hits == 3
    assert collector.ids == []
    letter = DeadLetter.objects.get()
    assert (letter.sink, letter.state, letter.attempts, letter.event_count) == (
        HTTP_SINK,
        DeadLetter.State.DEAD,
        3,
        2,
    )
    assert "HTTP 500" in letter.last_error
    assert sorted(e["id"] for e in letter.events) == sorted(ids)

    collector.default_status = 200
    with use_app(app):
        assert redrive(DeadLetter.objects.all()) == 1
    with running_worker(app):
        collector.wait_for(lambda c: len(c.ids) >= len(ids))
    assert sorted(collector.ids) == sorted(ids)
    assert RecordingSink.ids() == ids
    letter.refresh_from_db()
    assert (letter.state, letter.redrive_count) == (DeadLetter.State.DELIVERED, 1)
