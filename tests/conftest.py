"""Shared fixtures. Services: under CI=true a missing service fails the test; off CI it skips
with a loud reason, so a newcomer without Redis still gets a clear run."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from django_experiments.api.throttle_cache import throttle_cache
from django_experiments.engine import definitions
from django_experiments.engine.stores import _build

pytest_plugins = ["pytester"]

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Where a newcomer reads which services the suite uses and how to point it at them.
SERVICES_DOC = 'see "Try it: two commands" in README.md'


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if ON_CI:
        pytest.fail(f"{message} (CI=true: services are mandatory)")
    pytest.skip(f"SKIPPED LOUDLY: {message}; start it to run this test ({SERVICES_DOC})")


@pytest.fixture
def redis_available() -> None:
    require_service("Redis", "127.0.0.1", 6379)


@pytest.fixture
def redis_store(redis_available: None, settings: Any) -> Iterator[Any]:
    """Assignments in a real Redis hash through django-redis (database 15, flushed)."""
    from django_redis import get_redis_connection

    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "STORE": "redis",
        "STORE_ALIAS": "redis",
    }
    client = get_redis_connection("redis")
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture(autouse=True)
def _eager_celery() -> Iterator[None]:
    """Every test runs with an eager Celery app unless it switches to a real broker.

    Without it, shared tasks would go to Celery's default app (amqp on localhost) and sit in a
    queue nobody consumes.
    """
    from tests.celery_apps import make_app, use_app

    with use_app(make_app("memory://", eager=True)):
        yield


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    from django.core.cache import caches

    caches["default"].clear()
    throttle_cache.reset()  # a dead cache left by another test must not degrade this one
    definitions.invalidate(shared=False)
    _build.cache_clear()
    yield
    definitions.invalidate(shared=False)
    _build.cache_clear()


@pytest.fixture
def dead_cache(settings: Any) -> str:
    """A django-redis cache alias ("dead") pointing at a port where nothing listens."""
    settings.CACHES = {
        **settings.CACHES,
        "dead": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }
    return "dead"


@pytest.fixture
def dead_redis(settings: Any, dead_cache: str) -> None:
    """The Redis store, on the dead alias: every store call fails."""
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "STORE": "redis",
        "STORE_ALIAS": dead_cache,
    }


@pytest.fixture
def make_experiment(db: Any) -> Any:
    """Create an experiment with treatments: ``make_experiment("cta", control=1, b=1)``."""
    from django_experiments.models import Experiment, Treatment

    def make(
        name: str = "cta", status: str = "running", salt: str | None = None, **weights: Any
    ) -> Experiment:
        weights = weights or {"control": 1, "candidate": 1}
        kwargs = {"salt": salt} if salt else {}
        exp = Experiment.objects.create(name=name, status=status, **kwargs)
        for i, (tname, weight) in enumerate(weights.items()):
            Treatment.objects.create(
                experiment=exp,
                name=tname,
                weight=weight,
                is_control=(i == 0),
                order=i,
                payload={"label": tname},
            )
        return exp

    return make


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Requests written to any Redis socket (a pipeline is one), from any thread."""
    from redis.connection import AbstractConnection

    writes: list[int] = []
    original = AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        writes.append(1)
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    yield writes


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Any:
    """``with committed(): ...`` runs the block as one transaction and fires its on_commit
    callbacks (phases are recorded on commit)."""
    from contextlib import contextmanager

    from django.db import transaction

    @contextmanager
    def block() -> Any:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            yield

    return block
