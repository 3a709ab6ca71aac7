"""Scope binding, DNT, memoisation, async views, queries and Redis round trips per request."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from django_experiments.conf import settings as exp_settings
from django_experiments.engine.context import key_for
from django_experiments.engine.scope import current_scope
from tests.web.conftest import anon, cookie_id, redis_monitor

pytestmark = pytest.mark.django_db


def test_scope_is_bound_in_the_view_and_released_after(client: Any, cta: Any) -> None:
    data = client.get("/web/page/").json()
    assert data["scope_bound"] is True
    assert data["events"] == ["viewed", "assignment"]
    assert current_scope() is None


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "t", "yes", "Y", "on", " 1 "])
def test_dnt_assigns_but_tracks_nothing(client: Any, cta: Any, value: str) -> None:
    data = client.get("/web/page/", HTTP_DNT=value).json()
    assert data["variant"] in ("control", "candidate")
    assert data["events"] == []
    assert cookie_id(client) is not None  # assignment still sticks


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "", "null", "11", "yes please"])
def test_other_dnt_values_are_tracked(client: Any, cta: Any, value: str) -> None:
    assert client.get("/web/page/", HTTP_DNT=value).json()["events"] == ["viewed", "assignment"]


def test_dnt_is_ignored_when_respect_dnt_is_off(client: Any, cta: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "RESPECT_DNT": False}
    assert client.get("/web/page/", HTTP_DNT="1").json()["events"] == ["viewed", "assignment"]


def test_resolutions_are_memoised_per_request(client: Any, cta: Any) -> None:
    data = client.get("/web/memo/").json()
    # request.experiment("cta") and request.experiment("cta", actor=None) are the same
    # anonymous resolution.
    assert data["cta"][0] == data["cta"][1]


def test_async_view_through_the_async_client(async_client: Any, cta: Any) -> None:
    async def visit() -> Any:
        return await async_client.get("/web/async/")

    first = async_to_sync(visit)()
    assert first.status_code == 200
    data = first.json()
    assert data["scope_bound"] is True
    anonymous_id = first.cookies[exp_settings.COOKIE_NAME].value.split(":")[0]
    assert data["key"] == key_for("cta", {"actor": anon(anonymous_id)})
    second = async_to_sync(visit)()
    assert second.json()["variant"] == data["variant"]
    assert second.json()["key"] == data["key"]
    assert exp_settings.COOKIE_NAME not in second.cookies


def test_async_view_for_a_logged_in_user(async_client: Any, cta: Any, user: Any) -> None:
    async_client.force_login(user)

    async def visit() -> Any:
        return await async_client.get("/web/async/")

    response = async_to_sync(visit)()
    assert response.json()["key"] == key_for("cta", {"actor": user})
    assert exp_settings.COOKIE_NAME not in response.cookies


@pytest.mark.parametrize("what", ["flush_scope", "write_pending", "carry"])
def test_a_failing_close_never_breaks_the_response(
    client: Any, cta: Any, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    from django_experiments import middleware

    calls: list[Any] = []

    def broken(scope: Any, *args: Any) -> None:
        calls.append(scope)
        raise RuntimeError("store or broker down")

    target = middleware.assignments if what == "write_pending" else middleware
    monkeypatch.setattr(target, what, broken)
    assert client.get("/web/page/").status_code == 200
    assert len(calls) == 1


@pytest.mark.parametrize("url", ["/web/raises/", "/web/raises-own-scope/"])
def test_events_tracked_before_an_exception_still_leave(
    client: Any, cta: Any, shipped: list[dict[str, Any]], settings: Any, url: str
) -> None:
    if url.endswith("own-scope/"):  # with_scope alone, as the package's views use it
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "ExperimentMiddleware" not in m]
    client.raise_request_exception = False
    assert client.get(url).status_code == 500
    # Tracking is not an exposure: the view never showed the variant.
    assert [e["event"] for e in shipped] == ["before_the_crash"]


def test_a_streaming_body_ships_its_events_at_once(
    client: Any, cta: Any, shipped: list[dict[str, Any]], store: Any
) -> None:
    response = client.get("/web/streaming/")
    assert shipped == []  # nothing resolved before the body
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("start;")
    assert [e["event"] for e in shipped] == ["streamed", "assignment"]
    anonymous_id = cookie_id(client)
    assert anonymous_id is None  # the cookie was written before the body: none was needed


def test_zero_db_queries_per_request_once_warm(
    client: Any, cta: Any, django_assert_num_queries: Any
) -> None:
    client.get("/web/page/")  # warm-up: definitions snapshot
    with django_assert_num_queries(0):
        response = client.get("/web/page/")
    assert response.status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/web/template/plain/").status_code == 200


@pytest.fixture
def counted_redis(redis_store: Any, settings: Any) -> tuple[Any, str]:
    """The Redis store under a key prefix unique to this test (MONITOR filters on it)."""
    prefix = f"glexrt{uuid.uuid4().hex[:12]}"
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE_KEY_PREFIX": prefix}
    return redis_store, prefix


def test_redis_round_trips_per_request(
    client: Any, make_experiment: Any, counted_redis: tuple[Any, str]
) -> None:
    redis, prefix = counted_redis
    names = ["one", "two", "three"]
    for name in names:
        make_experiment(name, control=1, b=1)
    url = "/web/memo/?names=" + ",".join(names)

    with redis_monitor(redis, prefix) as first:
        assert client.get(url).status_code == 200
    # New visitor: nothing can be stored for an id minted in this request, so no reads; the
    # three new assignments are written before the response leaves (one pipeline, see
    # tests/engine/test_assignments.py), set-if-absent.
    assert sorted(c["command"].split()[0] for c in first) == ["HSETNX"] * 3

    with redis_monitor(redis, prefix) as warm:
        assert client.get(url).status_code == 200
    # Returning visitor: one atomic read-or-claim per experiment (each asked for twice in the
    # view, read once); with the explicit multi-read, one HGET pipeline for all three.
    assert [c["command"].split()[0] for c in warm] == ["EVALSHA"] * 3
    with redis_monitor(redis, prefix) as fetched:
        assert client.get(url + "&prefetch=1").status_code == 200
    assert [c["command"].split()[0] for c in fetched] == ["HGET"] * 3


def test_login_migration_is_one_pipelined_round_trip(
    client: Any,
    make_experiment: Any,
    user: Any,
    counted_redis: tuple[Any, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from redis.connection import AbstractConnection

    redis, prefix = counted_redis
    for name in ("one", "two", "three"):
        make_experiment(name, control=1, b=1)
    for name in ("one", "two", "three"):
        client.get(f"/web/page/{name}/")

    # Count writes to Redis sockets: one write, then its replies, is one round trip.
    writes: list[int] = []
    original = AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        writes.append(1)
        return original(self, command, check_health)

    with redis_monitor(redis, prefix) as commands:
        monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
        response = client.post("/web/login/", {"username": "ada", "password": "pw"})
        monkeypatch.setattr(AbstractConnection, "send_packed_command", original)
    assert response.status_code == 200
    assert [c["command"].split()[0] for c in commands] == ["EVAL"] * 3
    assert len(writes) == 1


def test_async_login_migrates(async_client: Any, cta: Any, user: Any, store: str) -> None:
    from tests.web.conftest import stored

    async def visit(path: str) -> Any:
        return await async_client.get(path)

    first = async_to_sync(visit)("/web/async/")
    anonymous_id = first.cookies[exp_settings.COOKIE_NAME].value.split(":")[0]
    variant = first.json()["variant"]

    response = async_to_sync(visit)("/web/async-login/")

    assert response.status_code == 200
    assert response.json()["variant"] == variant
    assert response.json()["signature"]["migration_keys"] == [first.json()["key"]]
    assert response.cookies[exp_settings.COOKIE_NAME].value == ""
    assert stored("cta", user) == variant
    assert stored("cta", anon(anonymous_id)) is None
