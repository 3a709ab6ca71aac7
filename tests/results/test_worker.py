"""With a real Celery worker (Redis and RabbitMQ brokers): events cross the broker, the worker's
DatabaseSink keeps the rollups, and the results match what the visitors did."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from django_experiments import experiment
from django_experiments.engine import definitions
from django_experiments.models import Experiment
from django_experiments.results import results_for
from django_experiments.tracking.models import DailyExposure, TrackedEvent
from tests.tracking.conftest import DB_SINK, make_app, running_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.broker]


@pytest.mark.parametrize("broker", ["redis_broker", "amqp_broker"])
def test_worker_fills_the_results(
    request: Any, broker: str, make_experiment: Any, tracking_settings: Any
) -> None:
    url = request.getfixturevalue(broker)
    tracking_settings(TRACKING_SINKS=[DB_SINK])
    exp: Experiment = make_experiment("cta", control=1, candidate=1)
    definitions.invalidate()
    # Warm the definitions so visits read no tables while the worker writes (SQLite).
    experiment("cta", actor="warm-up").decision  # noqa: B018 - no exposure
    with running_worker(make_app(url)):
        out = StringIO()
        call_command(
            "simulate_traffic",
            "cta",
            "--visitors",
            "60",
            "--rate",
            "0.5",
            "--seed",
            "7",
            stdout=out,
        )
        wait_until(lambda: TrackedEvent.objects.filter(event="assignment").count() == 60)
        wait_until(lambda: sum(DailyExposure.objects.values_list("exposed", flat=True)) == 60)
    report = results_for(exp)
    assert report.total_exposed == 60
    printed = {
        line.split(":")[0]: int(line.split(", ")[1].split()[0])
        for line in out.getvalue().splitlines()
        if "converted" in line and ":" in line
    }
    clicked = next(m for m in report.metrics if m.key == "clicked:binomial")
    assert {r.variant: r.converted for r in clicked.rows} == printed
