"""Predictable claims through the middleware: a returning visitor's request reads nothing, and
a hand-picked variant still sticks because the cookie says so (engine/assignments.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest

from django_experiments import cookies
from django_experiments.conf import settings as exp_settings
from django_experiments.engine.definitions import get_definition
from tests.web.conftest import anon, cookie_id, stored

# Committed for real: the experiment's first phase is recorded on commit, and predictions
# need the phases.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def phased(make_experiment: Any, settings: Any) -> Any:
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "ALLOW_FORCED_ASSIGNMENT": True,
        "TRACKING_DEDUPE_SECONDS": 0,
    }
    exp = make_experiment("cta", control=1, candidate=1)
    definition = get_definition("cta")
    assert definition is not None and definition.unchanged, "the phase predicts the slots"
    return exp


def _variant(client: Any, query: str = "") -> str:
    response = client.get(f"/web/page/?{query}" if query else "/web/page/")
    assert response.status_code == 200
    return str(response.json()["variant"])


def _cookie_flag(client: Any) -> bool:
    request = HttpRequest()
    request.COOKIES = {exp_settings.cookie_name: client.cookies[exp_settings.cookie_name].value}
    return cookies.read(request).hand_picked


def test_a_returning_visitor_costs_one_write_and_no_read(
    client: Any, phased: Any, redis_store: Any, round_trips: list[int]
) -> None:
    first = _variant(client)
    visitor = cookie_id(client)
    assert visitor is not None and stored("cta", anon(visitor)) == first
    redis_store.delete(*redis_store.keys("glex:cta*"))  # as if the first write had failed
    round_trips.clear()
    assert _variant(client) == first
    # One round trip: the queued set-if-absent (no read), which stores the variant again.
    assert len(round_trips) == 1
    assert stored("cta", anon(visitor)) == first


def test_a_forced_variant_flags_the_cookie_and_sticks(
    client: Any, phased: Any, redis_store: Any
) -> None:
    natural = _variant(client)
    other = "candidate" if natural == "control" else "control"
    assert not _cookie_flag(client)
    assert _variant(client, f"glex_force=cta:{other}") == other
    assert _cookie_flag(client), "the response re-issued the cookie with the flag"
    visitor = cookie_id(client)
    assert visitor is not None and stored("cta", anon(visitor)) == other
    # Without the parameter: read (the flag says so), and the forced variant is kept.
    assert _variant(client) == other
    assert _variant(client) == other


def test_a_new_visitor_forced_on_the_first_request_gets_a_flagged_cookie(
    client: Any, phased: Any, redis_store: Any
) -> None:
    assert _variant(client, "glex_force=cta:candidate") == "candidate"
    assert _cookie_flag(client)
    assert _variant(client) == "candidate"
