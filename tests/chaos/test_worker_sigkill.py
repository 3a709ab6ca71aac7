"""A worker killed with SIGKILL mid-batch, on RabbitMQ and on a Redis broker.

``deliver`` acknowledges late, so the batch a worker was running when it died, and those it
had reserved, go back to the queue: at once on RabbitMQ (the broker sees the connection drop),
after ``visibility_timeout`` on Redis (kombu restores un-acked messages that old on its next
sweep). Nothing is lost. The batch that was mid-delivery reaches its sinks twice, which
at-least-once allows: ``DatabaseSink`` keeps one row per event id, the HTTP collector sees the
copy. No other event may arrive twice.
"""

from __future__ import annotations

import os
import signal
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
VISIBILITY_TIMEOUT = 5
RESTORE_INTERVAL = 1
REDIS_TRANSPORT = {
    "visibility_timeout": VISIBILITY_TIMEOUT,
    "unacked_restore_interval": RESTORE_INTERVAL,
    "unacked_restore_throttle": 1,
}
#: The documented values themselves: a requeued task must not wait for them.
REDIS_DOCUMENTED = {
    "visibility_timeout": 840,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
#: A requeued batch (pool process lost) comes back in seconds (about 5 s measured: the pool
#: notices the loss and starts a new process); far below any visibility timeout.
REQUEUE_BOUND = 30.0
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
    # The batch the dead worker held came back within the stated time of a worker consuming.
    redelivered_at = max(collector.last_seen[i] for i in in_flight)
    redelivered = redelivered_at - restarted_at
    rows = delivered_rows("chaos-kill")
    duplicated_ids = {i for i, n in collector.received.items() if n > 1}
    report(
        tally.line(
            collector.seqs,
            collector.duplicates(),
            in_flight_batch=len(in_flight),
            unacked_at_kill=unacked,
            new_worker_ready_after=f"{restarted_at - killed_at:.1f} s",
            kill_to_redelivery=f"{redelivered_at - killed_at:.1f} s",
            bound=f"new worker + {bound:g} s",
            kill_to_last_delivery=f"{last_delivery - killed_at:.1f} s",
        )
    )

    assert tally.server_errors == 0
    assert tally.sent == set(range(REQUESTS * EVENTS_PER_REQUEST))
    assert not tally.sent - set(collector.seqs), "events lost on the HTTP sink"
    assert set(rows) == tally.sent, "events lost on the database sink"
    assert set(rows.values()) == {1}, "DatabaseSink stored an event twice"
    # At-least-once: the batch that was mid-delivery arrives twice, no other event does.
    assert duplicated_ids == in_flight
    assert redelivered <= bound


@pytest.mark.broker
def test_pool_process_killed_mid_batch_is_requeued(
    redis_factory: Callable[[], RedisServer],
    worker_factory: Callable[..., WorkerProcess],
    web_app: Callable[..., Any],
    chaos_settings: Callable[..., dict[str, Any]],
    collector: Collector,
    make_running: Callable[..., Any],
    report: Callable[[str], None],
) -> None:
    """The OOM-killer case: only the prefork child dies, the worker lives on.

    Celery acknowledges a late-ack task whose pool process died unless the task rejects on
    worker loss; ``deliver`` does, so the batch is requeued at once (no visibility timeout
    to wait) and the respawned child delivers it.
    """
    server = redis_factory()
    server.start()
    broker = server.url()
    experiments = chaos_settings(
        TRACKING_SINKS=[DB_SINK, HTTP_SINK], TRACKING_HTTP_URL=collector.url
    )
    make_running("chaos-child")
    web_app(broker, REDIS_DOCUMENTED)
    worker = worker_factory(broker, experiments, REDIS_DOCUMENTED, pool="prefork")
    collector.hold_next()

    tally = Tally("pool process SIGKILL mid-batch (redis, prefork)")
    clients = [Client() for _ in range(VISITORS)]
    for i in range(REQUESTS // 2):
        tally.request(clients[i % VISITORS], "chaos-child", events=EVENTS_PER_REQUEST)
    collector.wait_held()
    in_flight = set(collector.received)
    [child] = worker.children()
    killed_at = time.monotonic()
    os.kill(child, signal.SIGKILL)
    collector.release()

    collector.wait_for(
        lambda c: tally.sent <= set(c.seqs) and all(c.received[i] >= 2 for i in in_flight),
        timeout=REQUEUE_BOUND + 30,
    )
    redelivered_after = max(collector.last_seen[i] for i in in_flight) - killed_at
    rows = delivered_rows("chaos-child")
    report(
        tally.line(
            collector.seqs,
            collector.duplicates(),
            in_flight_batch=len(in_flight),
            kill_to_redelivery=f"{redelivered_after:.1f} s",
        )
    )

    assert worker.process is not None and worker.process.poll() is None
    assert tally.server_errors == 0
    assert not tally.sent - set(collector.seqs)
    assert set(rows) == tally.sent
    assert set(rows.values()) == {1}
    assert {i for i, n in collector.received.items() if n > 1} == in_flight
    # Requeued, not restored after the visibility timeout (14 minutes here).
    assert redelivered_after < REQUEUE_BOUND
