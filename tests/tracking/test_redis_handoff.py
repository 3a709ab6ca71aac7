"""The "redis" hand-off: events to a Redis list on the request thread, drained to Celery.

Real Redis throughout (the store's database), a real broker and a real worker where the drain
publishes. The broker-down and Redis-down cases use dead ports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from django_experiments.tracking import redis_handoff
from django_experiments.tracking.models import OutboxBatch, TrackedEvent
from django_experiments.tracking.outbox import drain_redis
from tests.celery_apps import make_app, use_app
from tests.tracking.conftest import (
    DB_SINK,
    DEAD_BROKER,
    RECORDING_SINK,
    RecordingSink,
    running_worker,
    wait_until,
)

NAMES = ("cta", "pricing")


def page(request: HttpRequest) -> HttpResponse:
    variants = [request.experiment(name).assigned.name for name in NAMES]  # type: ignore[attr-defined]
    request.experiment("cta").track("clicked")  # type: ignore[attr-defined]
    return HttpResponse(",".join(variants))


urlpatterns = [path("page/", page)]
pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def handoff(redis_store: Any, settings: Any, make_experiment: Any) -> Iterator[Any]:
    """The Redis store and the "redis" hand-off on it, a non-eager app, two experiments."""
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "TRACKING_HANDOFF": "redis",
        "TRACKING_DEDUPE_SECONDS": 0,
        "TRACKING_SINKS": [RECORDING_SINK],
    }
    for name in NAMES:
        make_experiment(name, control=1, candidate=1)
    with use_app(make_app(DEAD_BROKER)):
        yield redis_store


def handed_over(client: Any) -> list[list[dict[str, Any]]]:
    return [json.loads(raw) for raw in client.lrange(redis_handoff.keys()[0], 0, -1)]


def test_a_new_visitors_events_ride_in_the_assignments_pipeline(
    handoff: Any, round_trips: list[int]
) -> None:
    response = Client().get("/page/")
    assert response.status_code == 200
    # No read (the id was minted in this request), one pipeline: assignments and events.
    assert sum(round_trips) == 1
    [batch] = handed_over(handoff)
    assert sorted(e["event"] for e in batch) == ["assignment", "assignment", "clicked"]
    stored = {e["experiment"]: e["variant"] for e in batch if e["event"] == "assignment"}
    assert ",".join(stored[name] for name in NAMES) == response.content.decode()
    assert all(handoff.hlen(f"glex:{name}") == 1 for name in NAMES)


def test_a_returning_visitor_pushes_its_events_in_one_command(
    handoff: Any, round_trips: list[int]
) -> None:
    visitor = Client()
    first = visitor.get("/page/").content
    round_trips.clear()
    assert visitor.get("/page/").content == first
    # One read-or-claim per experiment, then the RPUSH.
    assert sum(round_trips) == len(NAMES) + 1
    assert [len(batch) for batch in handed_over(handoff)] == [3, 3]


def test_the_dedupe_window_is_the_workers_and_costs_the_request_no_round_trip(
    handoff: Any, settings: Any, redis_broker: str, round_trips: list[int]
) -> None:
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "TRACKING_DEDUPE_SECONDS": 3600,
        "TRACKING_DEDUPE_CACHE_ALIAS": "redis",
    }
    visitor = Client()
    round_trips.clear()
    first = visitor.get("/page/").content
    # The window on, as by default: still one pipeline (assignments and events), no SET NX.
    assert sum(round_trips) == 1
    assert visitor.get("/page/").content == first
    pushed = [e for batch in handed_over(handoff) for e in batch]
    assert sorted(e["event"] for e in pushed) == ["assignment"] * 4 + ["clicked"] * 2
    with running_worker(make_app(redis_broker)):
        drain_redis()
        wait_until(lambda: len(RecordingSink.ids()) >= 4)
    shipped = [e for batch in RecordingSink.batches for e in batch]
    # The worker applied the window: one exposure per experiment, every custom event.
    assert sorted(e["event"] for e in shipped) == ["assignment"] * 2 + ["clicked"] * 2
    assert sorted(e["experiment"] for e in shipped if e["event"] == "assignment") == sorted(NAMES)


def test_the_drain_ships_many_requests_in_one_task_to_a_real_worker(
    handoff: Any, redis_broker: str
) -> None:
    for _ in range(5):
        Client().get("/page/")
    pushed = [e["id"] for batch in handed_over(handoff) for e in batch]
    assert len(pushed) == 15
    app = make_app(redis_broker)
    with running_worker(app):
        result = drain_redis()
        wait_until(lambda: len(RecordingSink.ids()) >= 15)
    assert (result.drained, result.events, result.broker_down) == (5, 15, False)
    assert sorted(RecordingSink.ids()) == sorted(pushed)
    assert len(RecordingSink.batches) == 1, "five requests' events in one deliver task"
    assert handed_over(handoff) == []
    assert handoff.hlen(redis_handoff.keys()[1]) == 0


def test_a_drain_that_died_after_claiming_is_recovered(handoff: Any, settings: Any) -> None:
    for _ in range(3):
        Client().get("/page/")
    pushed = sorted(e["id"] for batch in handed_over(handoff) for e in batch)
    # A drain claims, then dies before publishing (no ack, no release).
    token, events, count = redis_handoff.claim(handoff, 10)
    assert count == 3 and len(events) == 9
    assert handed_over(handoff) == []
    # Within the visibility timeout the claim is presumed alive: nothing to drain.
    assert drain_redis(inline=True).drained == 0
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "TRACKING_REDIS_VISIBILITY": 0}
    result = drain_redis(inline=True)
    assert (result.recovered, result.drained, result.events) == (3, 3, 9)
    assert sorted(RecordingSink.ids()) == pushed
    assert handoff.hlen(redis_handoff.keys()[1]) == 0


def test_a_refusing_broker_puts_the_claim_back_in_order(handoff: Any) -> None:
    for _ in range(3):
        Client().get("/page/")
    before = handoff.lrange(redis_handoff.keys()[0], 0, -1)
    result = drain_redis()  # the current app's broker is a dead port
    assert result.broker_down and result.drained == 0
    assert handoff.lrange(redis_handoff.keys()[0], 0, -1) == before
    assert handoff.hlen(redis_handoff.keys()[1]) == 0


def test_the_command_drains_the_list_and_fails_while_the_broker_is_down(handoff: Any) -> None:
    from django.core.management import CommandError, call_command

    Client().get("/page/")
    with pytest.raises(CommandError, match="broker is unavailable"):
        call_command("drain_outbox")
    assert len(handed_over(handoff)) == 1
    call_command("drain_outbox", "--inline")
    assert handed_over(handoff) == []
    assert len(RecordingSink.ids()) == 3


def test_redis_refusing_the_events_sends_them_on_to_the_broker_or_the_outbox(
    handoff: Any, settings: Any, dead_cache: str
) -> None:
    """The list's Redis is down (the store's is up): the request publishes instead; the
    broker is down too, so the batch lands in the outbox. Nothing is lost, no 500."""
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "TRACKING_REDIS_ALIAS": dead_cache,
        "TRACKING_SINKS": [DB_SINK],
    }
    response = Client().get("/page/")
    assert response.status_code == 200
    [row] = OutboxBatch.objects.all()
    assert sorted(e["event"] for e in row.events) == ["assignment", "assignment", "clicked"]


def test_the_store_pipeline_failing_hands_the_carried_events_over_alone(
    handoff: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline that carries the events fails: they are pushed on their own."""
    from django_experiments.engine.stores import RedisHashStore

    original = RedisHashStore.put_many
    calls: list[int] = []

    def failing(self: Any, entries: Any, extra: Any = ()) -> None:
        calls.append(len(extra))
        if extra:
            raise ConnectionError("pipeline lost")
        original(self, entries, extra)

    monkeypatch.setattr(RedisHashStore, "put_many", failing)
    assert Client().get("/page/").status_code == 200
    assert calls == [1]
    [batch] = handed_over(handoff)
    assert len(batch) == 3


def test_eager_celery_delivers_inline(
    redis_store: Any, settings: Any, make_experiment: Any
) -> None:
    """No broker, no drain (the demo): the "redis" hand-off delivers like the "broker" one."""
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "TRACKING_HANDOFF": "redis",
        "TRACKING_SINKS": [DB_SINK],
    }
    for name in NAMES:
        make_experiment(name, control=1, candidate=1)
    Client().get("/page/")
    assert TrackedEvent.objects.count() == 3
    assert handed_over(redis_store) == []


def test_auto_uses_the_list_with_the_redis_store_only(redis_store: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "TRACKING_HANDOFF": "auto"}
    with use_app(make_app(DEAD_BROKER)):
        assert redis_handoff.configured() and redis_handoff.enabled()
        settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": "cache"}
        assert not redis_handoff.configured() and not redis_handoff.enabled()
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": "redis"}
    # Under eager Celery nothing drains the list: events are delivered inline instead.
    assert redis_handoff.configured() and not redis_handoff.enabled()
