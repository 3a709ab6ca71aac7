"""The Celery app of the chaos suite, built the same way in the test process and the worker.

The test process publishes with short timeouts (a dead broker must cost a request
milliseconds); the worker process reconnects for as long as it lives (a broker that comes back
must get its consumer back).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue


def build_app(
    broker: str,
    queue: str,
    *,
    transport_options: dict[str, Any] | None = None,
    worker: bool = False,
) -> Celery:
    amqp = broker.startswith("amqp")
    app = Celery("tests_chaos", set_as_current=False)
    app.conf.update(
        broker_url=broker,
        task_always_eager=False,
        task_ignore_result=True,
        result_backend=None,
        broker_connection_timeout=1,
        broker_heartbeat=0,
        broker_connection_retry_on_startup=worker,
        # The worker retries forever (a broker restart must not end it); the web side does
        # not wait: its publish retries are TRACKING_ENQUEUE_RETRIES, then the outbox.
        broker_connection_max_retries=None if worker else 1,
        broker_transport_options={"socket_connect_timeout": 1, **(transport_options or {})},
        worker_hijack_root_logger=False,
        # docs/tracking.md: with late acks on Redis, a task waiting in a worker's prefetch
        # buffer longer than visibility_timeout is given to another worker as well.
        worker_prefetch_multiplier=1,
        task_queues=[
            # RabbitMQ is shared with other test runs: a queue of our own, dropped when unused.
            Queue(queue, queue_arguments={"x-expires": 120_000} if amqp else None)
        ],
        task_default_queue=queue,
    )
    return app
