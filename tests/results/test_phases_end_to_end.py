"""Issue 11's case through the real path: experiment API → track → Celery → DatabaseSink →
rollups → results_for. Eager Celery here; tests/results/test_worker.py runs a real worker."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from django_experiments import experiment
from django_experiments.engine import definitions
from django_experiments.engine.scope import Scope, activate
from django_experiments.models import Experiment, Treatment
from django_experiments.results import results_for
from django_experiments.services import record_change
from django_experiments.tracking.dispatch import flush_scope
from django_experiments.tracking.models import TrackedEvent

DB_SINK = "django_experiments.tracking.sinks.DatabaseSink"

# Events leave on transaction commit, as in production: real transactions.
pytestmark = pytest.mark.django_db(transaction=True)


def visit(actor: str, click: bool = False) -> str:
    """One request: the variant is read (``run()`` records the exposure), maybe a click."""
    with activate(Scope()) as scope:
        exp = experiment("cta", actor=actor)
        variant = exp.run()
        if click:
            exp.track("clicked")
        name = exp.assigned.name
    flush_scope(scope)
    assert variant is not None
    return str(name)


def set_weights(exp: Experiment, **weights: int) -> int:
    """Change weights (a new phase); returns the number of the phase that ended."""
    before = exp.current_phase
    assert before is not None
    for name, weight in weights.items():
        Treatment.objects.filter(experiment=exp, name=name).update(weight=Decimal(weight))
    after = record_change(exp.pk)
    assert after is not None and after.number == before.number + 1
    definitions.invalidate()
    return before.number


@pytest.fixture
def cta(make_experiment: Any, tracking_settings: Any) -> Experiment:
    tracking_settings(TRACKING_SINKS=[DB_SINK], TRACKING_DEDUPE_SECONDS=0)
    exp: Experiment = make_experiment("cta", control=1, candidate=1)
    record_change(exp.pk)  # saving each treatment already opened a phase: idempotent
    assert exp.current_phase is not None
    definitions.invalidate()
    return exp


def test_new_phase_shows_only_its_new_contexts_and_no_old_conversions(cta: Experiment) -> None:
    first = [f"early-{i}" for i in range(10)]
    for actor in first:
        visit(actor)
    earlier_phase = set_weights(cta, control=0, candidate=1)
    for actor in first:  # the earlier phase's visitors come back and click
        with activate(Scope()) as scope:
            experiment("cta", actor=actor).track("clicked")
        flush_scope(scope)
    late = [visit(f"late-{i}") for i in range(10)]
    assert late == ["candidate"] * 10  # the new weights: everything to candidate
    assert TrackedEvent.objects.filter(event="clicked").count() == 10

    report = results_for(cta)
    assert report.phase is not None and report.phase.number == earlier_phase + 1
    assert {v.name: v.exposed for v in report.variants} == {"control": 0, "candidate": 10}
    (clicked,) = report.metrics if report.metrics else (None,)
    assert clicked is None  # no conversion at all in phase 2

    earlier = results_for(cta, phase=earlier_phase)
    assert sum(v.exposed for v in earlier.variants) == 10
    (metric,) = earlier.metrics
    assert sum(r.converted for r in metric.rows) == 10


def test_phase_counts_follow_the_engine_assignments(cta: Experiment) -> None:
    for i in range(20):
        visit(f"a-{i}", click=i % 2 == 0)
    earlier_phase = set_weights(cta, control=1, candidate=3)
    assigned = [visit(f"b-{i}", click=i < 4) for i in range(40)]

    report = results_for(cta)
    exposed = {v.name: v.exposed for v in report.variants}
    assert exposed == {n: assigned.count(n) for n in ("control", "candidate")}
    assert [v.expected_share for v in report.variants] == [0.25, 0.75]
    (metric,) = report.metrics
    assert metric.kind == "binomial"
    assert sum(r.converted for r in metric.rows) == 4
    converted = {r.variant: r.converted for r in metric.rows}
    assert converted == {
        n: sum(1 for v in assigned[:4] if v == n) for n in ("control", "candidate")
    }
    assert results_for(cta, phase=earlier_phase).total_exposed == 20


def test_value_metric_sums_a_contexts_values_after_exposure(cta: Experiment) -> None:
    with activate(Scope()) as scope:
        exp = experiment("cta", actor="buyer")
        exp.track("purchase", value=5)  # before any exposure: kept, not a conversion
        exp.run()
        exp.track("purchase", value=10)
        exp.track("purchase", value=2.5)
        variant = exp.assigned.name
    flush_scope(scope)
    visit("browser")
    report = results_for(cta)
    kinds = {m.kind: m for m in report.metrics if m.event == "purchase"}
    assert set(kinds) == {"binomial", "value"}
    row = next(r for r in kinds["value"].rows if r.variant == variant)
    assert row.total == 12.5
    assert TrackedEvent.objects.filter(event="purchase").count() == 3
