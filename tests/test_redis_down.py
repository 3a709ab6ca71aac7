"""Redis down: every URL of ``django_experiments.urls`` and every tag page still answers.

The default cache (definitions, throttles, tracking dedupe) and the assignment store all point
at a port where nothing listens, as when the one Redis of a deployment is down. Nothing may
answer 5xx, and the throttles keep limiting, per process (api/throttle_cache.py).
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

import pytest
from django.test import Client

from django_experiments.api.throttle_cache import throttle_cache
from django_experiments.engine import stores
from django_experiments.models import Experiment

pytestmark = pytest.mark.django_db

KEY = "0" * 32


@pytest.fixture
def redis_down(
    settings: Any, dead_cache: str, make_experiment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, status in (("cta", "running"), ("paused", "paused"), ("draft", "draft")):
        exp = make_experiment(name, status=status)
        Experiment.objects.filter(pk=exp.pk).update(client_visible=True)
    # The one Redis of a deployment: default cache (throttles, definitions) and store.
    settings.CACHES = {**settings.CACHES, "default": settings.CACHES[dead_cache]}
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "STORE": "redis",
        "STORE_ALIAS": dead_cache,
        "DEFINITIONS_CACHE_ALIAS": "default",
        "TRACKING_DEDUPE_CACHE_ALIAS": "default",
    }
    monkeypatch.setattr(stores, "_warned_at", {})  # count this test's warnings only


def _calls(client: Client) -> dict[str, list[Any]]:
    """One or more requests per URL name of django_experiments.urls."""
    events = {"experiment": "cta", "event": "clicked", "value": 1}
    return {
        "assignments": [
            client.get("/experiments/assignments/", {"experiments": "cta,paused,draft"}),
            client.get("/experiments/assignments/", {"experiments": "nope"}),
            client.get("/experiments/assignments/"),
        ],
        "events": [
            client.post("/experiments/events/", {"events": [events]}, "application/json"),
            client.post("/experiments/events/", "[" * 1000, "application/json"),
        ],
        "redirect": [
            client.get(f"/experiments/r/cta:{KEY}?/landing/"),
            client.get("/experiments/r/nope:xyz?/landing/"),
        ],
    }


def test_every_url_answers_without_a_5xx(redis_down: None, user: Any) -> None:
    anonymous, logged_in = Client(), Client()
    logged_in.force_login(user)
    names = {p.name for p in import_module("django_experiments.urls").urlpatterns}
    for client in (anonymous, logged_in):
        calls = _calls(client)
        assert set(calls) == names  # a new URL needs its case here
        statuses = {name: [r.status_code for r in rs] for name, rs in calls.items()}
        assert all(s < 500 for codes in statuses.values() for s in codes), statuses
        assert statuses["assignments"] == [200, 200, 400]
        assert statuses["events"] == [202, 400]
        assert statuses["redirect"] == [303, 404]
        # Running experiments are still served, from the slot table.
        served = calls["assignments"][0].json()["experiments"]
        assert set(served) == {"cta"}  # draft: never; paused: no stored variant readable


@pytest.mark.parametrize("which", ["plain", "as", "ifvariant", "json", "escape"])
def test_pages_with_the_tags_render(redis_down: None, client: Client, which: str) -> None:
    assert client.get(f"/web/template/{which}/").status_code == 200
    assert client.get("/web/page/").status_code == 200


def test_throttles_keep_limiting_and_warn_once(
    redis_down: None, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "API_THROTTLE_RATE": "5/min"}
    client = Client()
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        codes = [
            client.get("/experiments/assignments/", {"experiments": "cta"}).status_code
            for _ in range(8)
        ]
    assert codes == [200] * 5 + [429] * 3  # counted in this process while Redis is down
    assert throttle_cache.degraded
    warnings = [r for r in caplog.records if "Rate-limit cache unavailable" in r.getMessage()]
    assert len(warnings) == 1


@pytest.fixture
def user(db: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("ada", password="pw")
