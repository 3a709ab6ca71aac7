"""``simulate_traffic`` drives the real API, Celery (eager here, a worker in test_worker) and
the database sink: the results page then shows the simulated traffic."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_experiments.engine import definitions
from django_experiments.models import Experiment
from django_experiments.results import results_for
from django_experiments.tracking.models import TrackedEvent

pytestmark = pytest.mark.django_db(transaction=True)

DB_SINK = "django_experiments.tracking.sinks.DatabaseSink"


@pytest.fixture
def cta(make_experiment: Any, tracking_settings: Any) -> Experiment:
    tracking_settings(TRACKING_SINKS=[DB_SINK])
    exp: Experiment = make_experiment("cta", control=1, candidate=1)
    definitions.invalidate()
    return exp


def test_simulated_visitors_reach_the_results(cta: Experiment) -> None:
    out = StringIO()
    call_command(
        "simulate_traffic",
        "cta",
        "--visitors",
        "400",
        "--lift",
        "0.5",
        "--seed",
        "3",
        "--rate",
        "0.3",
        stdout=out,
    )
    assert "400 visitors of 'cta' simulated" in out.getvalue()
    assert TrackedEvent.objects.filter(event="assignment").count() == 400
    report = results_for(cta)
    assert report.total_exposed == 400
    clicked = next(m for m in report.metrics if m.key == "clicked:binomial")
    printed = {
        line.split(":")[0]: int(line.split(", ")[1].split()[0])
        for line in out.getvalue().splitlines()
        if "converted" in line and ":" in line
    }
    assert {r.variant: r.converted for r in clicked.rows} == printed
    purchase = next(m for m in report.metrics if m.key == "purchase:value")
    assert sum(r.total for r in purchase.rows) > 0


def test_same_seed_and_prefix_are_the_same_visitors(cta: Experiment) -> None:
    call_command("simulate_traffic", "cta", "--visitors", "50", "--seed", "1", stdout=StringIO())
    call_command("simulate_traffic", "cta", "--visitors", "50", "--seed", "1", stdout=StringIO())
    assert results_for(cta).total_exposed == 50  # the second run re-exposed the same contexts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "No experiment named 'nope'"),
        (["cta", "--visitors", "0"], "--visitors"),
        (["cta", "--rate", "1.5"], "--rate"),
        (["cta", "--rate", "0.8", "--lift", "0.5"], "--lift"),
    ],
)
def test_bad_arguments_are_clear_errors(cta: Experiment, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("simulate_traffic", *args, stdout=StringIO())


def test_paused_experiment_is_refused(cta: Experiment) -> None:
    Experiment.objects.filter(pk=cta.pk).update(status="paused")
    with pytest.raises(CommandError, match="paused"):
        call_command("simulate_traffic", "cta", stdout=StringIO())
