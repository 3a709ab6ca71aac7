"""Fixtures for the tracking pipeline: test Celery apps, a real worker, a loopback HTTP sink.

The host project owns the Celery app, so these tests build their own: an eager one by default
(autouse), a Redis- or RabbitMQ-backed one for the real-worker tests, and one pointing at a
dead port for the broker-down tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.db import OperationalError, close_old_connections

from tests.celery_apps import make_app, use_app
from tests.conftest import require_service

# Overridable so that several checkouts can run their broker tests side by side.
REDIS_BROKER = os.environ.get("TEST_REDIS_BROKER", "redis://127.0.0.1:6379/14")
AMQP_BROKER = os.environ.get("TEST_AMQP_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
DEAD_BROKER = "redis://127.0.0.1:1/14"

DB_SINK = "django_experiments.tracking.sinks.DatabaseSink"
HTTP_SINK = "django_experiments.tracking.sinks.HttpSink"
RECORDING_SINK = "tests.tracking.conftest.RecordingSink"
FAILING_SINK = "tests.tracking.conftest.FailingSink"


class RecordingSink:
    """Records every batch it is sent, in process memory (the worker thread shares it)."""

    batches: list[list[dict[str, Any]]] = []
    lock = threading.Lock()

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        with self.lock:
            RecordingSink.batches.append(list(events))

    @classmethod
    def ids(cls) -> list[str]:
        with cls.lock:
            return [e["id"] for batch in cls.batches for e in batch]


class FailingSink:
    """Always raises: the sink whose failures must not disturb the others."""

    calls = 0

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        FailingSink.calls += 1
        raise RuntimeError("sink is down")


@pytest.fixture(autouse=True)
def eager_celery() -> Iterator[Celery]:
    """An eager app (the example project's embedded mode) unless a test switches apps."""
    RecordingSink.batches = []
    FailingSink.calls = 0
    with use_app(make_app("memory://", eager=True)) as app:
        yield app


@pytest.fixture
def tracking_settings(settings: Any) -> Callable[..., None]:
    """``tracking_settings(TRACKING_SINKS=[...], ...)`` merges keys into DJANGO_EXPERIMENTS."""

    def apply(**values: Any) -> None:
        settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, **values}

    return apply


class Collector:
    """A real HTTP server on 127.0.0.1 that records posted batches.

    ``statuses`` are answered in order, then ``default_status``.
    """

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.statuses: list[int] = []
        self.default_status = 200
        self.hits = 0
        self.cond = threading.Condition()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                with collector.cond:
                    collector.hits += 1
                    status = (
                        collector.statuses.pop(0)
                        if collector.statuses
                        else collector.default_status
                    )
                    if 200 <= status < 300:
                        collector.batches.append(body["events"])
                    collector.headers.append(dict(self.headers))
                    collector.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/collect"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def ids(self) -> list[str]:
        with self.cond:
            return [e["id"] for batch in self.batches for e in batch]

    def wait_for(self, predicate: Callable[[Collector], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"collector timed out: {self.hits} hits, {len(self.batches)} batches"
                    )
                self.cond.wait(remaining)


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    c.thread.start()
    yield c
    c.server.shutdown()
    c.server.server_close()


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``predicate``; a DB locked by the worker thread (SQLite) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except OperationalError:
            close_old_connections()
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def redis_broker() -> Iterator[str]:
    require_service("Redis", "127.0.0.1", 6379)
    yield REDIS_BROKER


@pytest.fixture
def amqp_broker() -> Iterator[str]:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    yield AMQP_BROKER


@contextlib.contextmanager
def running_worker(app: Celery) -> Iterator[Any]:
    """A real Celery worker (solo pool) consuming ``app``'s broker in a thread."""
    with (
        use_app(app),
        start_worker(
            app,
            pool="solo",
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=20,
        ) as worker,
    ):
        yield worker
