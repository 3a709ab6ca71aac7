"""Exposure: the first read of a variant, in any way, records one "assignment" event."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from django_experiments import experiment
from django_experiments.engine.scope import Scope, activate

pytestmark = pytest.mark.django_db


def test_the_readme_view_records_every_exposure(cta: Any, shipped: list[dict[str, Any]]) -> None:
    for _ in range(10):  # ten new visitors
        assert Client().get("/web/readme/").status_code == 200
    exposures = [e for e in shipped if e["event"] == "assignment"]
    clicks = [e for e in shipped if e["event"] == "clicked"]
    assert len(exposures) == 10 and len(clicks) == 10
    assert {e["key"] for e in exposures} == {e["key"] for e in clicks}
    assert all(e["forced"] is False for e in exposures)
    # Each visitor's exposure comes before its click: both leave in that order.
    for exposure, click in zip(shipped[::2], shipped[1::2], strict=True):
        assert (exposure["event"], click["event"]) == ("assignment", "clicked")
        assert exposure["key"] == click["key"]


@pytest.mark.parametrize(
    "read",
    [lambda exp: exp.assigned, lambda exp: exp.run(), lambda exp: exp.publish()],
    ids=["assigned", "run", "publish"],
)
def test_showing_the_variant_exposes_once(make_experiment: Any, read: Any) -> None:
    make_experiment("cta")
    with activate(Scope(deferring=True)) as scope:
        exp = experiment("cta", actor="ada")
        read(exp)
        read(exp)
        experiment("cta", actor="ada").assigned  # noqa: B018 - another instance, same scope
    assert [e["event"] for e in scope.events] == ["assignment"]


@pytest.mark.parametrize(
    "look",
    [
        lambda exp: exp.decision,
        lambda exp: exp.signature,
        lambda exp: exp.excluded,
        lambda exp: exp.should_track,
        lambda exp: exp.track("purchased", value=3),
    ],
    ids=["decision", "signature", "excluded", "should_track", "track"],
)
def test_looking_or_tracking_is_not_an_exposure(make_experiment: Any, look: Any) -> None:
    # A conversion recorded for a context that was never shown the variant (a webhook, a
    # server-side purchase) must not put it in the analysed population.
    make_experiment("cta")
    with activate(Scope(deferring=True)) as scope:
        look(experiment("cta", actor="ada"))
    assert "assignment" not in [e["event"] for e in scope.events]


@pytest.mark.parametrize(
    ("status", "context", "excluded"),
    [
        ("draft", {}, False),
        ("paused", {}, False),
        ("concluded", {}, False),
        ("running", {"only_assigned": True}, False),
        ("running", {}, True),
    ],
    ids=["draft", "paused", "concluded", "only_assigned-miss", "excluded"],
)
def test_no_exposure_where_nothing_is_analysed(
    make_experiment: Any, status: str, context: dict[str, Any], excluded: bool
) -> None:
    make_experiment("cta", status=status)
    with activate(Scope(deferring=True)) as scope:
        exp = experiment("cta", actor="ada", **context)
        if excluded:
            exp.exclude()
        exp.assigned  # noqa: B018
    assert scope.events == []


def test_do_not_track_is_never_exposed(make_experiment: Any) -> None:
    make_experiment("cta")
    with activate(Scope(deferring=True, trackable=False)) as scope:
        assert experiment("cta", actor="ada").assigned.name in ("control", "candidate")
    assert scope.events == []


def test_forced_and_explicit_variants_are_exposed_and_flagged(
    make_experiment: Any, settings: Any
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "ALLOW_FORCED_ASSIGNMENT": True}
    make_experiment("cta")
    with activate(Scope(deferring=True, forced={"cta": "candidate"})) as scope:
        experiment("cta", actor="forced-visitor").assigned  # noqa: B018
    with activate(Scope(deferring=True)) as explicit:
        experiment("cta", "candidate", actor="explicit-visitor").assigned  # noqa: B018
    [forced] = scope.events
    [chosen] = explicit.events
    assert (forced["variant"], forced["forced"]) == ("candidate", True)
    assert (chosen["variant"], chosen["forced"]) == ("candidate", True)
