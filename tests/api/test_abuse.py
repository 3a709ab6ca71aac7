"""The events endpoint under abuse: nested bodies, and one visitor posting a conversion 2,000
times. Real endpoint, real database sink."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_experiments import experiment
from django_experiments.api.body import MAX_DEPTH, BodyError, depth, parse_json
from django_experiments.tracking.models import TrackedEvent
from tests.tracking.conftest import DB_SINK

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.tracking.urls")]

URL = "/experiments/events/"
CLICK = {"experiment": "cta", "event": "purchased", "value": 1}


def test_depth_is_measured_without_recursion() -> None:
    assert depth(1) == 0
    assert depth({"a": [1, {"b": {}}]}) == 4  # an empty object is a level too
    deep: Any = []
    for _ in range(100_000):  # far beyond the interpreter's recursion limit
        deep = [deep]
    assert depth(deep) == 100_001


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 1000, "nests deeper"),  # RecursionError inside json.loads
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),
        (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "nests deeper"),
        (b"\xff\xfe", "must be JSON"),
        (b"1" * 5000, "must be JSON"),  # beyond int's digit limit: ValueError
    ],
)
def test_bodies_that_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(BodyError, match=message):
        parse_json(body)


def test_a_body_at_the_limit_parses() -> None:
    body = b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH
    assert depth(parse_json(body)) == MAX_DEPTH


@pytest.fixture
def visitor(make_experiment: Any, tracking_settings: Any) -> Client:
    """A logged-in visitor with a stored assignment in a client-visible experiment."""
    tracking_settings(TRACKING_SINKS=[DB_SINK], TRACKING_DEDUPE_SECONDS=0)
    exp = make_experiment("cta")
    exp.client_visible = True
    exp.save()
    user = get_user_model().objects.create_user("ana", password="pw")
    experiment("cta", actor=user).assigned  # noqa: B018 - stored, as a page view would
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **extra)


@pytest.mark.parametrize("levels", [1000, 5000, 30_000])
def test_deeply_nested_json_is_a_400(visitor: Client, levels: int) -> None:
    response = post(visitor, "[" * levels)
    assert response.status_code == 400
    assert "nests deeper" in response.json()["detail"]
    nested: Any = "x"
    for _ in range(900):  # parses, but would not encode again
        nested = {"k": nested}
    response = post(visitor, {**CLICK, "properties": nested})
    assert response.status_code == 400
    assert TrackedEvent.objects.exclude(event="assignment").count() == 0


def test_a_huge_body_is_a_413_before_it_is_read(visitor: Client) -> None:
    response = post(visitor, b"[" * 70_000)
    assert response.status_code == 413


def test_one_context_cannot_inflate_conversions(visitor: Client, tracking_settings: Any) -> None:
    tracking_settings(
        TRACKING_SINKS=[DB_SINK],
        TRACKING_DEDUPE_SECONDS=0,
        TRACKING_CLIENT_CONTEXT_RATE="10/min",
        TRACKING_CLIENT_THROTTLE_RATE="1000/min",
    )
    codes = [post(visitor, {"events": [CLICK] * 4}).status_code for _ in range(5)]
    assert codes == [202, 202, 429, 429, 429]
    assert TrackedEvent.objects.filter(event="purchased").count() == 8
    refused = post(visitor, CLICK)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "TRACKING_CLIENT_CONTEXT_RATE" in refused.json()["detail"]


def test_the_limit_is_per_context_not_per_address(visitor: Client, tracking_settings: Any) -> None:
    tracking_settings(
        TRACKING_SINKS=[DB_SINK], TRACKING_DEDUPE_SECONDS=0, TRACKING_CLIENT_CONTEXT_RATE="2/min"
    )
    # A new address per request changes nothing: the context is the same.
    codes = [post(visitor, CLICK, REMOTE_ADDR=f"198.51.100.{i}").status_code for i in range(3)]
    assert codes == [202, 202, 429]
    # Another visitor on the same address has a budget of their own.
    other = get_user_model().objects.create_user("bo", password="pw")
    experiment("cta", actor=other).assigned  # noqa: B018
    second = Client()
    second.force_login(other)
    assert post(second, CLICK, REMOTE_ADDR="198.51.100.0").status_code == 202


def test_ignored_events_do_not_count(visitor: Client, tracking_settings: Any) -> None:
    tracking_settings(TRACKING_CLIENT_CONTEXT_RATE="1/min")
    stranger = Client()  # no stored assignment: ignored, not counted, not refused
    assert [post(stranger, CLICK).json()["ignored"] for _ in range(3)] == [1, 1, 1]
    assert post(visitor, CLICK).status_code == 202


def test_no_limit_when_unset(visitor: Client, tracking_settings: Any) -> None:
    tracking_settings(
        TRACKING_SINKS=[DB_SINK], TRACKING_DEDUPE_SECONDS=0, TRACKING_CLIENT_CONTEXT_RATE=None
    )
    assert all(post(visitor, {"events": [CLICK] * 20}).status_code == 202 for _ in range(3))
    assert TrackedEvent.objects.exclude(event="assignment").count() == 60
