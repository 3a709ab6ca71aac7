"""Phases, status changes, re-randomising and clearing, through the DB."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from django_experiments import experiment, services
from django_experiments.engine import allocation
from django_experiments.engine.context import key_for
from django_experiments.engine.definitions import get_definition
from django_experiments.engine.stores import get_store
from django_experiments.loader import load_from_db
from django_experiments.models import Experiment, Phase, Treatment


@pytest.fixture
def cta(make_experiment: Any, committed: Any) -> Experiment:
    with committed():
        exp: Experiment = make_experiment("cta", control=50, candidate=50)
    return exp


def _set_weights(exp: Experiment, **weights: Any) -> None:
    for treatment in exp.treatments.all():
        if treatment.name in weights:
            treatment.weight = Decimal(str(weights[treatment.name]))
            treatment.save()


def test_creation_in_one_transaction_is_one_phase(cta: Experiment) -> None:
    [phase] = cta.phases.all()
    assert phase.number == 1 and phase.reason == Phase.Reason.CREATED
    assert phase.weights == {"control": "50", "candidate": "50"}
    assert phase.previous_weights is None
    assert phase.slot_table == [[0, 5000, "control"], [5000, 10000, "candidate"]]
    assert phase.ended_at is None
    assert cta.current_phase == phase


def test_several_saves_in_one_transaction_are_one_change(
    cta: Experiment, committed: Any, django_user_model: Any
) -> None:
    editor = django_user_model.objects.create(username="editor")
    before = cta.current_phase
    assert before is not None
    with services.changed_by(editor), committed():
        # Intermediate states a walk would pass through: 100/0, then 0/100, then 20/80.
        _set_weights(cta, control=100, candidate=0)
        _set_weights(cta, control=0, candidate=100)
        _set_weights(cta, control=20, candidate=80)
    phases = list(cta.phases.order_by("number"))
    assert [p.number for p in phases] == [1, 2]
    before.refresh_from_db()
    after = phases[1]
    assert before.ended_at is not None and after.ended_at is None
    assert after.reason == Phase.Reason.WEIGHTS
    assert after.previous_weights == {"control": "50", "candidate": "50"}
    assert after.weights == {"control": "20", "candidate": "80"}
    assert after.changed_by == editor and after.changed_by_label == "editor"
    assert after.describe_change() == "weights control=50, candidate=50 → control=20, candidate=80"
    # From the last committed table straight to the final one: exactly the TV distance moves.
    assert services.moved_share(before, after) == pytest.approx(0.3, abs=1e-9)
    counts = allocation.slot_counts([("control", 20), ("candidate", 80)])
    expected = allocation.rebalance(
        allocation.validate_ranges(before.slot_table), counts, ["control", "candidate"]
    )
    assert after.slot_table == [list(r) for r in expected]


def test_separate_commits_are_separate_phases(cta: Experiment, committed: Any) -> None:
    with committed():
        _set_weights(cta, control=100, candidate=0)
    with committed():
        _set_weights(cta, control=20, candidate=80)
    phases = list(cta.phases.order_by("number"))
    assert [p.weights for p in phases] == [
        {"control": "50", "candidate": "50"},
        {"control": "100", "candidate": "0"},
        {"control": "20", "candidate": "80"},
    ]
    assert [p.changed_by_id for p in phases] == [None, None, None]


def test_saving_without_a_change_opens_no_phase(cta: Experiment, committed: Any) -> None:
    with committed():
        for treatment in cta.treatments.all():
            treatment.save()
        cta.description = "edited"
        cta.save()
    assert cta.phases.count() == 1
    assert services.record_change(cta.pk) is None
    assert services.record_change(10**9) is None


def test_readers_before_recording_see_the_recorders_table(
    cta: Experiment, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            _set_weights(cta, control=1, candidate=3)
        pending = load_from_db()["cta"].ranges
    for callback in callbacks:
        callback()
    phase = cta.current_phase
    assert phase is not None and phase.number == 2
    assert [tuple(r) for r in phase.slot_table] == list(pending)
    assert get_definition("cta").ranges == pending  # type: ignore[union-attr]


def test_stored_assignments_of_unchanged_slots_do_not_move(
    cta: Experiment, committed: Any, settings: Any
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": "none"}
    before = {f"u{i}": experiment("cta", actor=f"u{i}").assigned.name for i in range(2000)}
    with committed():
        _set_weights(cta, control=40, candidate=60)
    after = {u: experiment("cta", actor=u).assigned.name for u in before}
    moved = sum(before[u] != after[u] for u in before) / len(before)
    assert moved == pytest.approx(0.1, abs=0.03)
    assert all(after[u] == "candidate" for u in before if before[u] == "candidate")


def test_rerandomise_records_a_salt_phase_and_forgets_assignments(
    cta: Experiment, committed: Any
) -> None:
    old_salt = cta.salt
    experiment("cta", actor="u1").assigned  # noqa: B018
    store = get_store()
    key = key_for("cta", {"actor": "u1"})
    assert store.get("cta", key) is not None
    with committed():
        services.rerandomise(cta)
    cta.refresh_from_db()
    assert cta.salt != old_salt and cta.store_generation == 1
    phase = cta.current_phase
    assert phase is not None
    assert phase.reason == Phase.Reason.SALT
    assert (phase.previous_salt, phase.salt) == (old_salt, cta.salt)
    assert phase.weights == phase.previous_weights
    assert f"salt {old_salt} → {cta.salt}" in phase.describe_change()
    definition = get_definition("cta")
    assert definition is not None and definition.store_name == "cta~1"
    assert store.get("cta~1", key) is None
    assert experiment("cta", actor="u1").assigned.name in {"control", "candidate"}


def test_rerandomise_can_keep_assignments(cta: Experiment, committed: Any) -> None:
    with committed():
        services.rerandomise(cta, forget_assignments=False)
    cta.refresh_from_db()
    assert cta.store_generation == 0
    assert cta.current_phase.reason == Phase.Reason.SALT  # type: ignore[union-attr]


def test_clear_assignments(cta: Experiment, committed: Any, redis_store: Any) -> None:
    experiment("cta", actor="u1").assigned  # noqa: B018
    assert redis_store.exists("glex:cta")
    with committed():
        services.clear_assignments(cta)
    assert not redis_store.exists("glex:cta")
    assert get_definition("cta").store_name == "cta~1"  # type: ignore[union-attr]
    experiment("cta", actor="u1").assigned  # noqa: B018
    assert redis_store.exists("glex:cta~1")


def test_clear_assignments_rolled_back_keeps_them(
    cta: Experiment, redis_store: Any, django_capture_on_commit_callbacks: Any
) -> None:
    experiment("cta", actor="u1").assigned  # noqa: B018
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.clear_assignments(cta)
        raise RuntimeError("rolled back")
    assert redis_store.exists("glex:cta")


def test_status_changes(cta: Experiment) -> None:
    services.pause(cta)
    assert Experiment.objects.get(pk=cta.pk).status == "paused"
    services.start(cta)
    cta.refresh_from_db()
    assert cta.status == "running" and cta.started_at is not None
    started = cta.started_at
    services.pause(cta)
    services.start(cta)
    assert cta.started_at == started  # the first start is kept
    winner = cta.treatments.get(name="candidate")
    services.conclude(cta, winner)
    cta.refresh_from_db()
    assert cta.status == "concluded" and cta.winner == winner and cta.concluded_at is not None
    assert experiment("cta", actor="anyone").assigned.name == "candidate"


def test_status_changes_validate(cta: Experiment, make_experiment: Any) -> None:
    other = make_experiment("other")
    with pytest.raises(ValidationError):
        services.conclude(cta, other.treatments.first())
    assert Experiment.objects.get(pk=cta.pk).status == "running"
    # The instance is left as it was, so the next action does not trip over the bad winner.
    assert cta.status == "running" and cta.winner is None and cta.concluded_at is None
    Treatment.objects.filter(experiment=cta).update(weight=0)
    services.pause(cta)
    with pytest.raises(ValidationError):
        services.start(cta)
    assert Experiment.objects.get(pk=cta.pk).status == "paused"


def test_create_draft(db: Any) -> None:
    row = services.create_draft("new-one")
    assert row is not None and row.status == "draft"
    assert list(row.treatments.values_list("name", "is_control")) == [("control", True)]
    assert services.create_draft("new-one") == row
    assert row.treatments.count() == 1
    long = services.create_draft("x" * 300)
    assert long is not None and long.name == "x" * 100


@pytest.mark.django_db(transaction=True)
def test_real_commit_records_one_phase(make_experiment: Any) -> None:
    """No test-case wrapping transaction: on_commit fires for real."""
    with transaction.atomic():
        exp = make_experiment("real", control=1, candidate=1)
    assert exp.phases.count() == 1
    with transaction.atomic():
        _set_weights(exp, control=3)
        _set_weights(exp, candidate=5)
    phases = list(exp.phases.order_by("number"))
    assert len(phases) == 2
    assert phases[1].weights == {"control": "3", "candidate": "5"}
    assert get_definition("real").effective_shares() == {  # type: ignore[union-attr]
        "control": 0.375,
        "candidate": 0.625,
    }
