"""The HTTP sink answers 500, then recovers: retries deliver a short outage, dead letters keep
a long one, and a re-drive delivers those once the sink is back.

A real worker process runs the retries (follow-up tasks with a countdown on a private
``redis-server`` broker). The database sink, configured next to the HTTP one, takes every
batch at the first attempt and is never sent it again: a failing sink retries alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.chaos.collector import Collector
from tests.chaos.conftest import DB_SINK, HTTP_SINK, delivered_rows
from tests.chaos.redis_server import RedisServer
from tests.chaos.tally import Tally
from tests.chaos.worker import WorkerProcess
from tests.tracking.conftest import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.broker]

VISITORS = 5
REQUESTS = 15
EVENTS_PER_REQUEST = 4
MAX_ATTEMPTS = 3


def test_http_sink_outage_is_retried_dead_lettered_and_redriven(
    redis_factory: Callable[[], RedisServer],
    worker_factory: Callable[..., WorkerProcess],
    web_app: Callable[..., Any],
    chaos_settings: Callable[..., dict[str, Any]],
    collector: Collector,
    make_running: Callable[..., Any],
    report: Callable[[str], None],
) -> None:
    from django_experiments.tracking.dispatch import redrive
    from django_experiments.tracking.models import DeadLetter

    server = redis_factory()
    server.start()
    broker = server.url()
    experiments = chaos_settings(
        TRACKING_SINKS=[DB_SINK, HTTP_SINK],
        TRACKING_HTTP_URL=collector.url,
        TRACKING_MAX_ATTEMPTS=MAX_ATTEMPTS,
        TRACKING_RETRY_BACKOFF=0.5,
        TRACKING_RETRY_BACKOFF_MAX=1.0,
    )
    make_running("chaos-sink")
    web_app(broker)
    tally = Tally("HTTP sink 500 then recovering")
    clients = [Client() for _ in range(VISITORS)]

    worker_factory(broker, experiments)

    # A short outage: every batch's first attempt gets a 500, its retry gets through.
    collector.fail_first_attempts = True
    for i in range(REQUESTS):
        tally.request(clients[i % VISITORS], "chaos-sink", events=EVENTS_PER_REQUEST)
    short_outage = set(tally.sent)
    collector.wait_for(lambda c: short_outage <= set(c.seqs), timeout=30)
    collector.fail_first_attempts = False
    first_attempts_failed = collector.errors_answered
    assert first_attempts_failed >= 1
    assert not DeadLetter.objects.exists()

    # A long outage: every attempt fails, each batch becomes a dead letter for the HTTP sink.
    collector.status = 500
    errors_before = collector.errors_answered
    for i in range(REQUESTS):
        tally.request(clients[i % VISITORS], "chaos-sink", events=EVENTS_PER_REQUEST)
    long_outage = tally.sent - short_outage

    def all_dead() -> bool:
        dead = {
            int(event["properties"]["seq"])
            for events in DeadLetter.objects.values_list("events", flat=True)
            for event in events
            if event["event"] == "chaos"
        }
        return dead == long_outage

    wait_until(all_dead, timeout=60)
    letters = list(DeadLetter.objects.all())
    assert {letter.sink for letter in letters} == {HTTP_SINK}
    assert {letter.attempts for letter in letters} == {MAX_ATTEMPTS}
    assert collector.errors_answered - errors_before == len(letters) * MAX_ATTEMPTS
    assert not long_outage & set(collector.seqs)

    collector.status = 200
    redriven = redrive(DeadLetter.objects.all())
    collector.wait_for(lambda c: tally.sent <= set(c.seqs), timeout=30)
    wait_until(
        lambda: (
            set(DeadLetter.objects.values_list("state", flat=True)) == {DeadLetter.State.DELIVERED}
        ),
        timeout=30,
    )
    rows = delivered_rows("chaos-sink")
    report(
        tally.line(
            collector.seqs,
            collector.duplicates(),
            sink_500s=collector.errors_answered,
            dead_letters=len(letters),
            redriven=redriven,
        )
    )

    assert tally.server_errors == 0
    assert not tally.sent - set(collector.seqs), "events lost on the HTTP sink"
    assert set(rows) == tally.sent, "events lost on the database sink"
    assert set(rows.values()) == {1}, "the database sink was sent a batch again"
    assert collector.duplicates() == 0
