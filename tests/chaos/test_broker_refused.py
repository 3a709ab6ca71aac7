"""The broker dies mid-traffic: requests carry on, events wait in the outbox, a drain ships them.

The broker is a private ``redis-server`` killed with SIGKILL, so the port refuses connections.
A refused publish costs the request milliseconds and writes the batch to the outbox; while the
broker is down a drain stops (``drain_outbox`` exits non-zero) and keeps every row; once it is
back, the drain re-publishes them and the (reconnected) worker delivers every event once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.chaos.collector import Collector
from tests.chaos.conftest import DB_SINK, HTTP_SINK, delivered_rows
from tests.chaos.redis_server import RedisServer
from tests.chaos.tally import Tally
from tests.chaos.worker import WorkerProcess

pytestmark = [pytest.mark.chaos, pytest.mark.broker]

VISITORS = 5
BEFORE = 20
DURING = 40
AFTER = 10
EVENTS_PER_REQUEST = 3
#: A refused connection fails fast; a request must never wait on a dead broker.
MAX_REQUEST_SECONDS = 2.0


def test_refused_broker_parks_events_in_the_outbox_until_a_drain(
    redis_factory: Callable[[], RedisServer],
    worker_factory: Callable[..., WorkerProcess],
    web_app: Callable[..., Any],
    chaos_settings: Callable[..., dict[str, Any]],
    collector: Collector,
    make_running: Callable[..., Any],
    report: Callable[[str], None],
) -> None:
    from django_experiments.tracking.models import OutboxBatch

    server = redis_factory()
    server.start()
    broker = server.url()
    experiments = chaos_settings(
        TRACKING_SINKS=[DB_SINK, HTTP_SINK], TRACKING_HTTP_URL=collector.url
    )
    make_running("chaos-broker")
    web_app(broker)
    worker_factory(broker, experiments)
    tally = Tally("refused broker")
    clients = [Client() for _ in range(VISITORS)]

    for i in range(BEFORE):
        tally.request(clients[i % VISITORS], "chaos-broker", events=EVENTS_PER_REQUEST)
    # Everything the broker took is delivered before it dies: a broker without persistence
    # loses what it holds when it crashes, which is not the application's loss to prove.
    collector.wait_for(lambda c: tally.sent <= set(c.seqs), timeout=30)
    before_outage = set(tally.sent)

    server.kill()
    tally.slowest_request = 0.0
    for i in range(DURING):
        tally.request(clients[i % VISITORS], "chaos-broker", events=EVENTS_PER_REQUEST)
    slowest_during_outage = tally.slowest_request
    during_outage = tally.sent - before_outage
    parked = {
        int(event["properties"]["seq"])
        for events in OutboxBatch.objects.values_list("events", flat=True)
        for event in events
        if event["event"] == "chaos"
    }
    outbox_rows = OutboxBatch.objects.count()

    with pytest.raises(CommandError, match="broker is unavailable"):
        call_command("drain_outbox")
    assert OutboxBatch.objects.count() == outbox_rows, "a failed drain must keep every row"

    server.start()
    # Back up: the pooled connections are stale. The first publish attempt fails on them; the
    # retry reconnects, so these events reach the broker, not the outbox.
    sent_before_recovery = set(tally.sent)
    for i in range(AFTER):
        tally.request(clients[i % VISITORS], "chaos-broker", events=EVENTS_PER_REQUEST)
    after_recovery = tally.sent - sent_before_recovery
    outbox_rows_after_recovery = OutboxBatch.objects.count()
    call_command("drain_outbox")
    collector.wait_for(lambda c: tally.sent <= set(c.seqs), timeout=60)
    rows = delivered_rows("chaos-broker")
    report(
        tally.line(
            collector.seqs,
            collector.duplicates(),
            outbox_batches=outbox_rows,
            events_parked=len(parked),
            slowest_request_while_refused=f"{slowest_during_outage * 1000:.0f} ms",
        )
    )

    assert tally.server_errors == 0
    assert len(during_outage) == DURING * EVENTS_PER_REQUEST
    assert outbox_rows >= 1
    assert len(after_recovery) == AFTER * EVENTS_PER_REQUEST
    assert outbox_rows_after_recovery == outbox_rows, "after the restart, events go to the broker"
    assert parked == during_outage, "every event tracked while refused is in the outbox"
    assert slowest_during_outage < MAX_REQUEST_SECONDS
    assert OutboxBatch.objects.count() == 0
    assert not tally.sent - set(collector.seqs), "events lost on the HTTP sink"
    assert set(rows) == tally.sent, "events lost on the database sink"
    assert set(rows.values()) == {1}
    assert collector.duplicates() == 0
