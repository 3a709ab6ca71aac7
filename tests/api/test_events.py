"""The client-side events endpoint: validation, assignment checks, CSRF, throttling, limits."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_experiments import experiment
from django_experiments.tracking.models import TrackedEvent
from tests.tracking.conftest import DB_SINK

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.tracking.urls")]

URL = "/experiments/events/"


def custom_events() -> Any:
    """Stored events other than exposures (reading a variant records one)."""
    return TrackedEvent.objects.exclude(event="assignment")


@pytest.fixture
def visible(make_experiment: Any, tracking_settings: Any) -> Any:
    tracking_settings(TRACKING_SINKS=[DB_SINK], TRACKING_DEDUPE_SECONDS=0)
    exp = make_experiment("cta")
    exp.client_visible = True
    exp.save()
    make_experiment("hidden")
    return exp


@pytest.fixture
def user() -> Any:
    return get_user_model().objects.create_user("ana", password="pw")


@pytest.fixture
def assigned(visible: Any, user: Any, client: Client) -> str:
    """Log the visitor in and give them a stored assignment, as a page view would."""
    client.force_login(user)
    return str(experiment("cta", actor=user).assigned.name)


def post(client: Client, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **extra)


def test_accepts_events_for_the_visitors_assignment(client: Client, assigned: str) -> None:
    response = post(
        client,
        {
            "events": [
                {"experiment": "cta", "event": "clicked", "variant": assigned, "value": 3},
                {"experiment": "cta", "event": "viewed", "properties": {"step": 2}},
            ]
        },
    )
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 2, "ignored": 0}
    rows = {r.event: r for r in custom_events()}
    assert set(rows) == {"clicked", "viewed"}
    assert rows["clicked"].variant == assigned and rows["clicked"].value == 3.0
    assert rows["viewed"].properties == {"step": 2}
    assert (
        rows["clicked"].key == experiment("cta", actor=get_user_model().objects.get()).context.key
    )


def test_a_single_event_object_is_accepted(client: Client, assigned: str) -> None:
    response = post(client, {"experiment": "cta", "event": "clicked"})
    assert response.status_code == 202
    assert custom_events().count() == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "must be JSON"),
        (b"\xff\xfe", "must be JSON"),
        ({"events": []}, "non-empty list"),
        ({"events": {"experiment": "cta"}}, "non-empty list"),
        ({"events": [], "extra": 1}, "Unexpected top-level fields: extra"),
        ({"events": ["clicked"]}, "must be a JSON object"),
        ({"experiment": "nope", "event": "clicked"}, "unknown experiment 'nope'"),
        ({"experiment": "hidden", "event": "clicked"}, "not client-visible"),
        ({"experiment": "cta", "event": "clicked", "variant": "zzz"}, "has no variant 'zzz'"),
        ({"experiment": "cta", "event": ""}, "non-empty string"),
        ({"experiment": "cta", "event": "c", "value": "1"}, "number or null"),
        ({"experiment": "cta", "event": "c", "properties": [1]}, "must be an object"),
        ({"experiment": "cta", "event": "c", "properties": {"b": "x" * 5000}}, "EVENT_MAX_PROP"),
        ({"experiment": "cta", "event": "c", "user_id": 7}, "unexpected fields: user_id"),
        ({"experiment": 5, "event": "c"}, "non-empty string"),
    ],
)
def test_bad_bodies_get_clear_400s_and_record_nothing(
    client: Client, assigned: str, body: Any, message: str
) -> None:
    response = post(client, body)
    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json())
    assert custom_events().count() == 0


def test_one_bad_event_rejects_the_whole_body(client: Client, assigned: str) -> None:
    response = post(
        client,
        {
            "events": [
                {"experiment": "cta", "event": "ok"},
                {"experiment": "cta", "event": "bad", "value": float("nan")},
            ]
        },
    )
    # json.dumps writes NaN, which our parser accepts, and the value check rejects.
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"1"}
    assert custom_events().count() == 0


def test_claiming_another_variant_is_rejected(client: Client, assigned: str) -> None:
    other = "candidate" if assigned == "control" else "control"
    response = post(client, {"experiment": "cta", "event": "clicked", "variant": other})
    assert response.status_code == 400
    assert "not this visitor's assignment" in response.json()["errors"]["0"]
    assert custom_events().count() == 0


def test_untracked_visitors_are_accepted_and_ignored(
    client: Client, visible: Any, user: Any
) -> None:
    # Never assigned: a browser cannot mint an assignment by posting events.
    client.force_login(user)
    response = post(client, {"experiment": "cta", "event": "clicked"})
    assert (response.status_code, response.json()) == (202, {"accepted": 0, "ignored": 1})
    # Anonymous without a cookie identity: same.
    response = post(Client(), {"experiment": "cta", "event": "clicked"})
    assert response.json() == {"accepted": 0, "ignored": 1}
    assert custom_events().count() == 0


def test_do_not_track_is_respected(client: Client, assigned: str) -> None:
    response = post(client, {"experiment": "cta", "event": "clicked"}, HTTP_DNT="1")
    assert response.json() == {"accepted": 0, "ignored": 1}
    assert custom_events().count() == 0


def test_paused_experiment_events_are_ignored(client: Client, assigned: str, visible: Any) -> None:
    visible.status = "paused"
    visible.save()
    response = post(client, {"experiment": "cta", "event": "clicked", "variant": assigned})
    assert response.json() == {"accepted": 0, "ignored": 1}


def test_body_size_is_bounded(client: Client, assigned: str, tracking_settings: Any) -> None:
    tracking_settings(EVENT_MAX_BODY_BYTES=200)
    body = {"experiment": "cta", "event": "clicked", "properties": {"x": "y" * 300}}
    response = post(client, body)
    assert response.status_code == 413
    assert "EVENT_MAX_BODY_BYTES" in response.json()["detail"]
    assert custom_events().count() == 0


def test_too_many_events(client: Client, assigned: str, tracking_settings: Any) -> None:
    tracking_settings(TRACKING_CLIENT_MAX_EVENTS=2)
    response = post(client, {"events": [{"experiment": "cta", "event": "c"}] * 3})
    assert response.status_code == 400
    assert "TRACKING_CLIENT_MAX_EVENTS" in response.json()["detail"]


def test_csrf_is_enforced_for_every_visitor(visible: Any, user: Any) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    experiment("cta", actor=user).assigned  # noqa: B018
    body = {"experiment": "cta", "event": "clicked"}
    assert post(browser, body).status_code == 403
    assert post(Client(enforce_csrf_checks=True), body).status_code == 403
    # With the token from the cookie in the header, as the JS client sends it.
    browser.get("/admin/login/")
    token = browser.cookies["csrftoken"].value
    response = post(browser, body, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 202, response.content
    assert custom_events().count() == 1


def test_throttled(client: Client, assigned: str, tracking_settings: Any) -> None:
    tracking_settings(TRACKING_CLIENT_THROTTLE_RATE="2/min")
    body = {"experiment": "cta", "event": "clicked"}
    assert [post(client, body).status_code for _ in range(3)] == [202, 202, 429]


def test_only_post(client: Client, assigned: str) -> None:
    assert client.get(URL).status_code == 405


@pytest.mark.parametrize("variant", [[1], {"a": 1}, 3])
def test_a_non_string_variant_is_a_400_not_a_500(
    client: Client, assigned: str, variant: Any
) -> None:
    response = post(client, {"events": [{"experiment": "cta", "event": "x", "variant": variant}]})
    assert response.status_code == 400
    assert "has no variant" in response.content.decode()


def test_events_are_accepted_with_a_name_prefix(
    client: Client, visible: Any, user: Any, settings: Any
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "NAME_PREFIX": "pfx"}
    client.force_login(user)
    experiment("cta", actor=user).assigned  # noqa: B018 - the page view that assigns
    response = post(client, {"events": [{"experiment": "cta", "event": "clicked"}]})
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 1, "ignored": 0}
    assert TrackedEvent.objects.get(event="clicked").experiment == "pfx_cta"


@pytest.mark.urls("tests.urls")
def test_anonymous_events_count_without_the_middleware(
    client: Client, visible: Any, settings: Any
) -> None:
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "django_experiments.middleware.ExperimentMiddleware"
    ]
    # The client API sets the anonymous cookie and stores the visitor's assignment ...
    page = client.get("/experiments/assignments/?experiments=cta")
    assert page.status_code == 200, page.content
    # ... and the events endpoint recognises the same visitor by that cookie.
    response = post(client, {"events": [{"experiment": "cta", "event": "clicked"}]})
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 1, "ignored": 0}


@pytest.mark.urls("tests.urls")
def test_an_event_sent_right_after_the_first_page_counts(client: Client, visible: Any) -> None:
    # The first page's new assignment is stored before its response (and its cookie) leaves,
    # so the browser's first event finds it: no waiting, no guessing from the cookie's age.
    page = client.get("/experiments/assignments/?experiments=cta")
    assert page.status_code == 200, page.content
    started = time.monotonic()
    response = post(client, {"events": [{"experiment": "cta", "event": "clicked"}]})
    assert time.monotonic() - started < 1.0
    assert response.json() == {"accepted": 1, "ignored": 0}


@pytest.mark.urls("tests.urls")
def test_an_unseen_experiment_is_ignored_at_once(
    client: Client, visible: Any, make_experiment: Any
) -> None:
    unseen = make_experiment("banner")
    unseen.client_visible = True
    unseen.save()
    client.get("/experiments/assignments/?experiments=cta")  # a new cookie; "banner" never shown
    response = post(client, {"events": [{"experiment": "banner", "event": "seen"}] * 20})
    assert response.json() == {"accepted": 0, "ignored": 20}


@pytest.mark.urls("tests.urls")
def test_a_class_with_an_enabled_override_counts_too(
    client: Client, visible: Any, experiment_registry: Any
) -> None:
    from django_experiments import Experiment, register

    class Cta(Experiment):
        name = "cta"

        def enabled(self) -> bool:
            return True

    register(Cta)

    client.get("/experiments/assignments/?experiments=cta")
    response = post(client, {"events": [{"experiment": "cta", "event": "clicked"}]})
    assert response.json() == {"accepted": 1, "ignored": 0}


def test_an_event_posted_while_the_store_is_down_is_recorded(
    client: Client, visible: Any, user: Any, dead_redis: None
) -> None:
    """The store cannot say whether the visitor was assigned: the event is checked against
    the deterministic assignment and recorded, not dropped (nothing is stored either)."""
    client.force_login(user)
    expected = experiment("cta", actor=user).assigned.name  # the store is down: the table's
    response = post(client, {"events": [{"experiment": "cta", "event": "clicked"}]})
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 1, "ignored": 0}
    [row] = custom_events()
    assert row.variant == expected
    wrong = "candidate" if expected == "control" else "control"
    wrong_event = {"experiment": "cta", "event": "clicked", "variant": wrong}
    claimed = post(client, {"events": [wrong_event]})
    assert claimed.status_code == 400
