"""Dead letters in the admin (visible, re-driveable), the outbox admin, and ``{% track %}``."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from django.template import Context, Engine, TemplateSyntaxError
from django.test import Client, RequestFactory
from django.urls import reverse

import django_experiments.tracking.admin  # noqa: F401 - self-registering
from django_experiments.engine.scope import Scope, activate
from django_experiments.tracking.events import InvalidEventError
from django_experiments.tracking.models import DeadLetter, OutboxBatch
from tests.tracking.conftest import RECORDING_SINK, RecordingSink

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.tracking.urls")]


def event() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "event": "clicked",
        "experiment": "cta",
        "variant": "control",
        "key": "k" * 32,
        "value": None,
        "properties": {},
        "timestamp": datetime.now(timezone.utc).isoformat(),
    }


@pytest.fixture
def staff(admin_client: Client) -> Client:
    return admin_client


def test_dead_letters_are_listed_and_redriven_from_the_admin(
    staff: Client, tracking_settings: Any
) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])
    batch = [event()]
    letter = DeadLetter.objects.create(
        sink=RECORDING_SINK, events=batch, event_count=1, attempts=5, last_error="HTTP 500"
    )
    changelist = reverse("admin:django_experiments_deadletter_changelist")
    page = staff.get(changelist)
    assert page.status_code == 200
    assert RECORDING_SINK in page.content.decode()
    detail = staff.get(reverse("admin:django_experiments_deadletter_change", args=[letter.pk]))
    assert detail.status_code == 200 and batch[0]["id"] in detail.content.decode()

    response = staff.post(
        changelist,
        {"action": "redrive_selected", "_selected_action": [letter.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 dead letter re-driven." in response.content.decode()
    letter.refresh_from_db()
    assert (letter.state, letter.redrive_count) == ("delivered", 1)
    assert RecordingSink.ids() == [batch[0]["id"]]


def test_outbox_is_visible_and_drainable_from_the_admin(
    staff: Client, tracking_settings: Any
) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])
    row = OutboxBatch.objects.create(events=[event()])
    changelist = reverse("admin:django_experiments_outboxbatch_changelist")
    assert staff.get(changelist).status_code == 200
    response = staff.post(
        changelist, {"action": "drain_now", "_selected_action": [row.pk]}, follow=True
    )
    assert "1 batches drained, 0 due left." in response.content.decode()
    assert OutboxBatch.objects.count() == 0
    assert len(RecordingSink.batches) == 1


ENGINE = Engine(libraries={"experiment_tracking": "django_experiments.tracking.tags"})


def test_track_tag_records_an_event_and_renders_nothing(make_experiment: Any) -> None:
    make_experiment("cta")
    template = ENGINE.from_string(
        '{% load experiment_tracking %}[{% track "cta" "viewed" value=2 plan="pro" %}]'
    )
    request = RequestFactory().get("/")
    with activate(Scope(deferring=True)) as scope:
        assert template.render(Context({"request": request})) == "[]"
    (viewed,) = [e for e in scope.events if e["event"] == "viewed"]
    assert (viewed["value"], viewed["properties"]) == (2, {"plan": "pro"})


def test_track_tag_with_bad_properties(make_experiment: Any, settings: Any, caplog: Any) -> None:
    make_experiment("cta")
    template = ENGINE.from_string(
        '{% load experiment_tracking %}{% track "cta" "viewed" actor="a" blob=blob %}'
    )
    context = Context({"blob": "x" * 10_000})
    settings.DEBUG = False
    with activate(Scope(deferring=True)) as scope:
        assert template.render(context) == ""
    assert [e for e in scope.events if e["event"] == "viewed"] == []
    assert "ignored an invalid event" in caplog.text
    settings.DEBUG = True
    with pytest.raises(InvalidEventError), activate(Scope(deferring=True)):
        template.render(context)


def test_track_tag_needs_a_name_and_an_event() -> None:
    with pytest.raises(TemplateSyntaxError):
        ENGINE.from_string('{% load experiment_tracking %}{% track "cta" %}')
