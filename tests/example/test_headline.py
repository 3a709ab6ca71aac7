"""The demo's code-defined ``headline`` experiment, tested with the pytest plugin."""

from __future__ import annotations

from typing import Any

import pytest

from django_experiments.engine.registry import registered
from django_experiments.testing import (
    assert_excludes,
    assert_not_excludes,
    assert_not_segments,
    assert_registers_behavior,
    assert_segments,
    expect_not_tracked,
    expect_tracked,
)
from example_project.demo.experiments import HeadlineExperiment

pytestmark = pytest.mark.urls("example_project.urls")

CONTROL_TEXT = "A/B/n experiments for Django, edited in the admin"
CANDIDATE_TEXT = "Ship the better page, and know it is better"


class Person:
    def __init__(self, email: str = "", is_staff: bool = False) -> None:
        self.email = email
        self.is_staff = is_staff


def test_autodiscovery_registered_the_class() -> None:
    assert registered()["headline"] is HeadlineExperiment


def test_behaviours() -> None:
    assert_registers_behavior("headline", "control", returns=CONTROL_TEXT)
    assert_registers_behavior(HeadlineExperiment, "candidate", returns=CANDIDATE_TEXT)


def test_rules() -> None:
    assert_excludes(HeadlineExperiment, actor=Person(is_staff=True))
    assert_not_excludes(HeadlineExperiment, actor=Person())
    assert_segments("headline", into="candidate", actor=Person(email="ann@beta.example.com"))
    assert_not_segments("headline", actor=Person(email="ann@example.com"))


def test_the_view_renders_the_assigned_behaviour(client: Any, stub_experiments: Any) -> None:
    stub_experiments(headline="candidate")
    page = client.get("/headline/").content.decode()
    assert f"<h1>{CANDIDATE_TEXT}</h1>" in page
    assert "<code>candidate</code>" in page


def test_disabled_serves_control(client: Any, stub_experiments: Any) -> None:
    stub_experiments(headline=False)
    page = client.get("/headline/").content.decode()
    assert f"<h1>{CONTROL_TEXT}</h1>" in page


def test_subscribing_is_tracked_for_the_variant(client: Any, stub_experiments: Any) -> None:
    stub_experiments(headline="candidate")
    with expect_tracked("headline", "subscribed", variant="candidate"):
        response = client.post("/headline/")
    assert b"Thanks for subscribing" in response.content


def test_events_are_captured_not_shipped(
    client: Any, stub_experiments: Any, experiment_events: Any
) -> None:
    stub_experiments(headline={"variant": "candidate", "assigned": True})
    client.post("/headline/")
    # The view tracks, then the template runs the experiment (the exposure).
    assert [e["event"] for e in experiment_events.events] == ["subscribed", "assignment"]
    assert {e["variant"] for e in experiment_events.events} == {"candidate"}
    experiment_events.assert_tracked("headline", "subscribed", value=None, properties={})


@pytest.mark.django_db
def test_staff_are_excluded_and_not_tracked(
    client: Any, stub_experiments: Any, django_user_model: Any
) -> None:
    stub_experiments(headline="candidate")
    staff = django_user_model.objects.create_user("boss", is_staff=True)
    client.force_login(staff)
    with expect_not_tracked("headline", "subscribed"):
        page = client.post("/headline/").content.decode()
    assert f"<h1>{CONTROL_TEXT}</h1>" in page
