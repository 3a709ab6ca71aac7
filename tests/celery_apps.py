"""Test Celery apps. The host project owns the Celery app, so the tests build their own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from celery import Celery, _state
from kombu import Queue


def make_app(broker: str, *, eager: bool = False) -> Celery:
    # A queue of its own: other test runs on this machine (colleagues, CI) share the broker,
    # and a worker of theirs must never take our messages. RabbitMQ drops it when unused.
    queue = Queue(
        f"glex_tests_{uuid.uuid4().hex[:12]}",
        queue_arguments={"x-expires": 120_000} if broker.startswith("amqp") else None,
    )
    app = Celery("tests_tracking", set_as_current=False)
    app.conf.update(
        broker_url=broker,
        task_always_eager=eager,
        task_ignore_result=True,
        result_backend=None,
        broker_connection_timeout=1,
        # No heartbeats: an AMQP worker otherwise takes ~10 s to notice it should stop.
        broker_heartbeat=0,
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=1,
        broker_transport_options={"socket_connect_timeout": 1, "visibility_timeout": 60},
        worker_hijack_root_logger=False,
        task_queues=[queue],
        task_default_queue=queue.name,
    )
    app.finalize()
    return app


@contextlib.contextmanager
def use_app(app: Celery) -> Iterator[Celery]:
    """Make ``app`` the current and default Celery app (shared tasks resolve through it) in
    every thread, including the embedded worker's."""
    previous_current = _state._tls.current_app
    previous_default = _state.default_app
    app.set_current()
    app.set_default()
    try:
        yield app
    finally:
        _state._tls.current_app = previous_current
        _state.set_default_app(previous_default)
