"""Fixtures for the request-layer tests: experiments, users, both stores, cookie helpers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.http import HttpRequest

from django_experiments import cookies
from django_experiments.conf import settings as exp_settings
from django_experiments.engine.context import key_for
from django_experiments.engine.scope import anonymous_identity
from django_experiments.engine.stores import get_store


@pytest.fixture
def cta(make_experiment: Any) -> Any:
    return make_experiment("cta", control=1, candidate=1)


@pytest.fixture
def user(db: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("ada", password="pw")


@pytest.fixture(params=["cache", "redis"])
def store(request: pytest.FixtureRequest, settings: Any) -> str:
    """Run the test on the cache store and on the real Redis hash store."""
    if request.param == "redis":
        request.getfixturevalue("redis_store")
    else:
        settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": "cache"}
    return str(request.param)


def cookie_id(client: Any) -> str | None:
    """The anonymous id in the client's cookie jar (None if absent, deleted or invalid)."""
    morsel = client.cookies.get(exp_settings.cookie_name)
    if morsel is None or not morsel.value:
        return None
    request = HttpRequest()
    request.COOKIES = {exp_settings.cookie_name: morsel.value}
    value = request.get_signed_cookie(exp_settings.cookie_name, None, salt=cookies.SALT)
    # The id, without the hand-picked flag (cookies.py).
    return None if value is None else str(value).removesuffix(cookies.HAND_PICKED_FLAG)


def stored(name: str, actor: Any) -> str | None:
    """What the configured store holds for ``name`` and ``{"actor": actor}``."""
    from django_experiments.engine.definitions import get_definition

    definition = get_definition(name)
    assert definition is not None
    return get_store().get(
        definition.store_name, key_for(exp_settings.full_name(name), {"actor": actor})
    )


def anon(anonymous_id: str) -> str:
    return anonymous_identity(anonymous_id)


@contextmanager
def redis_monitor(client: Any, needle: str) -> Iterator[list[dict[str, Any]]]:
    """Every command clients send to Redis that mentions ``needle``, captured with MONITOR.

    A unique ``needle`` (the test's store key prefix) filters out other processes sharing the
    server; commands run inside Lua scripts are left out (they are no client round trip).
    Commands are collected until a sentinel ECHO, sent after the block, arrives.
    """
    import redis
    from django.conf import settings as django_settings

    monitor_client = redis.Redis.from_url(django_settings.REDIS_URL)  # no socket timeout
    commands: list[dict[str, Any]] = []
    sentinel = f"glex-monitor-stop-{uuid.uuid4().hex}"
    ready = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with monitor_client.monitor() as monitor:
                ready.set()
                for event in monitor.listen():
                    command = str(event["command"])
                    if sentinel in command:
                        return
                    if needle in command and event["client_type"] != "lua":
                        commands.append(event)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5), "MONITOR did not start"
    try:
        yield commands
    finally:
        client.echo(sentinel)
        thread.join(5)
        monitor_client.close()
    assert not errors, errors
    assert not thread.is_alive(), "MONITOR did not see the sentinel"


@pytest.fixture
def client_factory() -> Any:
    from django.test import Client

    return Client


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every event handed to the tracking pipeline (``producer.ship``), in order."""
    from django_experiments.tracking import producer

    events: list[dict[str, Any]] = []
    original = producer.ship

    def ship(batch: Any) -> None:
        events.extend(batch)
        original(batch)

    monkeypatch.setattr(producer, "ship", ship)
    return events
