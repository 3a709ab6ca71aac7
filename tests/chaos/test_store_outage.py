"""The Redis store is killed mid-traffic and restarted (empty): no request fails, assignments
fall back to the deterministic answer while it is down, and stickiness resumes after.

The default cache (the client endpoints' throttles) lives on the same Redis, and each visitor
also calls the client assignments API and posts browser events while it dies. Browser events
of a visitor whose stored assignment cannot be read are answered 202 "ignored", by design (the
endpoint only records events of confirmed assignments): the test counts them, not as sent.

Stickiness is made visible by changing weights: a stored visitor keeps the variant they got,
a visitor with nothing stored gets what the new weights give. Events are delivered inline (an
eager Celery app) to ``DatabaseSink``: this test breaks the store, not the pipeline; the
assignment-event dedupe window lives on the same dead Redis and must not lose events either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from django.test import Client

from tests.chaos.conftest import DB_SINK, delivered_rows
from tests.chaos.redis_server import RedisServer
from tests.chaos.tally import Tally

pytestmark = [pytest.mark.chaos, pytest.mark.redis]

VISITORS = 40
EXPERIMENT = "chaos-store"


def _set_weights(**weights: int) -> None:
    from django_experiments.models import Treatment

    for treatment in Treatment.objects.filter(experiment__name=EXPERIMENT):
        treatment.weight = weights[treatment.name]
        treatment.save()


def _deterministic(settings: Any, clients: list[Client]) -> list[str]:
    """What each visitor gets with nothing stored: the same request on the ``none`` store."""
    previous = settings.DJANGO_EXPERIMENTS
    settings.DJANGO_EXPERIMENTS = {**previous, "STORE": "none"}
    try:
        return [c.get(f"/chaos/track/{EXPERIMENT}/").json()["variant"] for c in clients]
    finally:
        settings.DJANGO_EXPERIMENTS = previous


def test_store_killed_and_restarted_mid_traffic(
    transactional_db: None,
    redis_factory: Callable[[], RedisServer],
    chaos_settings: Callable[..., dict[str, Any]],
    make_running: Callable[..., Any],
    settings: Any,
    report: Callable[[str], None],
) -> None:
    server = redis_factory()
    server.start()
    # One Redis for everything, as many sites run it: the store, and the default cache (the
    # client endpoints' throttles). Killing it takes all of them down at once.
    options = {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}
    redis_cache = {"BACKEND": "django_redis.cache.RedisCache", "OPTIONS": options}
    settings.CACHES = {
        **settings.CACHES,
        "default": {**redis_cache, "LOCATION": server.url(1)},
        "chaos_store": {**redis_cache, "LOCATION": server.url(0)},
    }
    chaos_settings(
        STORE="redis",
        STORE_ALIAS="chaos_store",
        TRACKING_SINKS=[DB_SINK],
        TRACKING_DEDUPE_SECONDS=86400,
        # Every visitor comes from 127.0.0.1: rate limits would answer 429, not what we test.
        API_THROTTLE_RATE="100000/min",
        TRACKING_CLIENT_THROTTLE_RATE="100000/min",
        TRACKING_CLIENT_CONTEXT_RATE=None,
    )
    exp = make_running(EXPERIMENT, control=1, candidate=1)
    exp.client_visible = True
    exp.save()
    tally = Tally("Redis store killed and restarted")
    clients = [Client() for _ in range(VISITORS)]

    def variants() -> list[str]:
        return [tally.request(c, EXPERIMENT).json()["variant"] for c in clients]

    first = variants()
    assert set(first) == {"control", "candidate"}
    # New weights: nobody new gets candidate; stored visitors keep what they have.
    _set_weights(control=1, candidate=0)
    assert variants() == first

    # Killed halfway through a round of requests.
    answers: list[str] = []
    tally.slowest_request = 0.0
    down_from = tally.requests + 3 * (VISITORS // 2)
    api_agrees = 0
    client_accepted = client_ignored = 0
    for i, client in enumerate(clients):
        if i == VISITORS // 2:
            server.kill()
        answers.append(tally.request(client, EXPERIMENT).json()["variant"])
        # The client API and the browser events endpoint, on the same dead (or dying) Redis.
        api = tally.api(client, EXPERIMENT)
        assert api.status_code == 200, api.content
        api_agrees += api.json()["experiments"][EXPERIMENT]["variant"] == answers[-1]
        posted = tally.client_events(client, EXPERIMENT, events=2)
        assert posted.status_code == 202, posted.content
        client_accepted += posted.json()["accepted"]
        client_ignored += posted.json()["ignored"]
    during = variants()
    slowest_while_down = tally.slowest_request
    while_down = sorted(tally.durations[down_from:])
    fallback = _deterministic(settings, clients)
    assert answers[: VISITORS // 2] == first[: VISITORS // 2], "sticky until the kill"
    assert answers[VISITORS // 2 :] == fallback[VISITORS // 2 :], "deterministic after it"
    assert during == fallback
    assert set(fallback) == {"control"}

    # Back, empty (no persistence): what is assigned now is stored and sticks again.
    server.start()
    after_restart = variants()
    assert after_restart == fallback
    stored = redis.Redis.from_url(server.url()).dbsize()
    _set_weights(control=0, candidate=1)
    sticky = variants()
    rows = delivered_rows(EXPERIMENT)
    report(
        tally.line(
            rows,
            sum(n - 1 for n in rows.values()),
            visitors=VISITORS,
            fallbacks_while_down=len(answers[VISITORS // 2 :]) + len(during),
            client_events_accepted=client_accepted,
            client_events_ignored=client_ignored,
            api_agrees_with_page=f"{api_agrees}/{VISITORS}",
            keys_stored_after_restart=stored,
            slowest_request_while_down=f"{slowest_while_down * 1000:.0f} ms",
            median_while_down=f"{while_down[len(while_down) // 2] * 1000:.0f} ms",
        )
    )

    assert stored > 0
    assert api_agrees == VISITORS
    assert sticky == after_restart, "stickiness resumed after the restart"
    assert set(_deterministic(settings, clients)) == {"candidate"}
    assert tally.server_errors == 0
    assert set(rows) == tally.sent, "events lost"
    assert set(rows.values()) == {1}
