"""A worker killed with SIGKILL mid-batch, on RabbitMQ and on a Redis broker.

``deliver`` acknowledges late, so the batch a worker was running when it died, and those it
had reserved, go back to the queue: at once on RabbitMQ (the broker sees the connection drop),
after ``visibility_timeout`` on Redis (kombu restores un-acked messages that old on its next
sweep). Nothing is lost. The batch that was mid-delivery reaches its sinks twice, which
at-least-once allows: ``DatabaseSink`` keeps one row per event id, the HTTP collector sees the
copy. No other event may arrive twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from django.test import Client

from tests.chaos.collector import Collector
from tests.chaos.conftest import DB_SINK, HTTP_SINK, delivered_rows
from tests.chaos.redis_server import RedisServer
from tests.chaos.tally import Tally
from tests.chaos.worker import WorkerProcess
from tests.conftest import require_service
from tests.tracking.conftest import AMQP_BROKER

#: docs/tracking.md's Redis broker settings, scaled down so the test runs in seconds: the
#: documented bound for a killed worker's batches is visibility_timeout plus one restore
#: sweep (unacked_restore_interval x unacked_restore_throttle) once a worker consumes.
VISIBILITY_TIMEOUT = 3
RESTORE_INTERVAL = 1
REDIS_TRANSPORT = {
    "visibility_timeout": VISIBILITY_TIMEOUT,
    "unacked_restore_interval": RESTORE_INTERVAL,
    "unacked_restore_throttle": 1,
}
#: Room for the redelivered tasks themselves to run on a loaded 2-core CI machine.
SLACK = 10.0

pytestmark = pytest.mark.chaos

REQUESTS = 60
EVENTS_PER_REQUEST = 5
VISITORS = 10


@pytest.mark.broker
@pytest.mark.parametrize("broker_kind", ["redis", "rabbitmq"])
def test_worker_killed_mid_batch_loses_nothing(
    broker_kind: str,
    redis_factory: Callable[[], RedisServer],
    worker_factory: Callable[..., WorkerProcess],
    web_app: Callable[..., Any],
    chaos_settings: Callable[..., dict[str, Any]],
    collector: Collector,
    make_running: Callable[..., Any],
    report: Callable[[str], None],
) -> None:
    if broker_kind == "redis":
        server = redis_factory()
        server.start()
        broker = server.url()
        transport: dict[str, Any] = REDIS_TRANSPORT
        bound = VISIBILITY_TIMEOUT + RESTORE_INTERVAL + SLACK
    else:
        require_service("RabbitMQ", "127.0.0.1", 5672)
        broker = AMQP_BROKER
        transport = {}
        bound = SLACK
    experiments = chaos_settings(
        TRACKING_SINKS=[DB_SINK, HTTP_SINK], TRACKING_HTTP_URL=collector.url
    )
    make_running("chaos-kill")
    web_app(broker, transport)
    worker_a = worker_factory(broker, experiments, transport)
    # The first batch the worker posts is recorded, then its request is held open: the worker
    # is mid-batch (DatabaseSink stored it, HttpSink waits for an answer) when it is killed.
    collector.hold_next()

    tally = Tally(f"worker SIGKILL mid-batch ({broker_kind})")
    clients = [Client() for _ in range(VISITORS)]
    for i in range(REQUESTS):
        tally.request(clients[i % VISITORS], "chaos-kill", events=EVENTS_PER_REQUEST)
    collector.wait_held()
    in_flight = set(collector.received)

    killed_at = time.monotonic()
    worker_a.kill()
    collector.release()
    unacked = None
    if broker_kind == "redis":
        # The dead worker's batches wait in kombu's un-acked hash, not in the queue.
        unacked = redis.Redis.from_url(broker).hlen("unacked")
        assert unacked >= 1
    worker_factory(broker, experiments, transport)
    restarted_at = time.monotonic()

    # Done when every event arrived and the batch the dead worker was delivering came again.
    collector.wait_for(
        lambda c: tally.sent <= set(c.seqs) and all(c.received[i] >= 2 for i in in_flight),
        timeout=bound + 30,
    )
    last_delivery = max(collector.last_seen.values())
    rows = delivered_rows("chaos-kill")
    duplicated_ids = {i for i, n in collector.received.items() if n > 1}
    report(
        tally.line(
            collector.seqs,
            collector.duplicates(),
            in_flight_batch=len(in_flight),
            unacked_at_kill=unacked,
            kill_to_last_delivery=f"{last_delivery - killed_at:.1f} s",
            new_worker_to_last_delivery=f"{last_delivery - restarted_at:.1f} s",
        )
    )

    assert tally.server_errors == 0
    assert tally.sent == set(range(REQUESTS * EVENTS_PER_REQUEST))
    assert not tally.sent - set(collector.seqs), "events lost on the HTTP sink"
    assert set(rows) == tally.sent, "events lost on the database sink"
    assert set(rows.values()) == {1}, "DatabaseSink stored an event twice"
    # At-least-once: the batch that was mid-delivery arrives twice, no other event does.
    assert duplicated_ids == in_flight
    assert last_delivery - restarted_at <= bound
