"""Resolution through ``experiment()``: every status, explicit variants, weight 0, unknowns."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from django_experiments import experiment
from django_experiments.engine.context import key_for
from django_experiments.engine.definitions import get_definition
from django_experiments.engine.stores import get_store
from django_experiments.models import Experiment as ExperimentRow
from django_experiments.models import Treatment


def _stored(name: str, actor: str) -> str | None:
    definition = get_definition(name)
    assert definition is not None
    return get_store().get(definition.store_name, key_for(name, {"actor": actor}))


def _deterministic(name: str, actor: str) -> str:
    definition = get_definition(name)
    assert definition is not None
    treatment = definition.treatment_for_key(key_for(name, {"actor": actor}))
    assert treatment is not None
    return treatment.name


def _set_status(exp: ExperimentRow, status: str, winner: str | None = None) -> None:
    exp.status = status
    if winner is not None:
        exp.winner = exp.treatments.get(name=winner)
    exp.save()


@pytest.fixture
def cta(make_experiment: Any) -> ExperimentRow:
    row: ExperimentRow = make_experiment("cta", control=1, candidate=1)
    return row


def test_running_assigns_by_slot_and_stores(cta: ExperimentRow) -> None:
    seen = set()
    for i in range(30):
        exp = experiment("cta", actor=f"u{i}")
        assert exp.enabled and exp.should_track and not exp.excluded
        assert exp.assigned.name == _deterministic("cta", f"u{i}")
        assert exp.assigned.payload == {"label": exp.assigned.name}
        assert _stored("cta", f"u{i}") == exp.assigned.name
        seen.add(exp.assigned.name)
    assert seen == {"control", "candidate"}


def test_draft_serves_control_untracked_and_stores_nothing(cta: ExperimentRow) -> None:
    _set_status(cta, "draft")
    for i in range(20):
        exp = experiment("cta", actor=f"u{i}")
        assert exp.assigned.name == "control"
        assert not exp.enabled and not exp.should_track
        assert _stored("cta", f"u{i}") is None
    # Not even an explicit variant bypasses the status.
    explicit = experiment("cta", "candidate", actor="u1")
    assert explicit.assigned.name == "control"
    assert _stored("cta", "u1") is None


def test_paused_keeps_stored_contexts_only(cta: ExperimentRow) -> None:
    assigned = {f"u{i}": experiment("cta", actor=f"u{i}").assigned.name for i in range(30)}
    assert "candidate" in assigned.values()
    _set_status(cta, "paused")
    for actor, name in assigned.items():
        exp = experiment("cta", actor=actor)
        assert exp.assigned.name == name
        assert not exp.enabled and not exp.should_track
    newcomers = [f"new{i}" for i in range(30)]
    for actor in newcomers:
        exp = experiment("cta", actor=actor)
        assert exp.assigned.name == "control"
        assert not exp.should_track
        assert _stored("cta", actor) is None
    assert any(_deterministic("cta", a) == "candidate" for a in newcomers)
    # An explicit variant does not assign while paused either.
    assert experiment("cta", "candidate", actor="new-explicit").assigned.name == "control"
    assert _stored("cta", "new-explicit") is None


def test_concluded_serves_the_winner_to_everyone(cta: ExperimentRow) -> None:
    stored = {f"u{i}": experiment("cta", actor=f"u{i}").assigned.name for i in range(20)}
    assert "control" in stored.values()
    _set_status(cta, "concluded", winner="candidate")
    for actor in [*stored, "newcomer"]:
        exp = experiment("cta", actor=actor)
        assert exp.assigned.name == "candidate"
        assert exp.assigned.payload == {"label": "candidate"}
        assert not exp.enabled and not exp.should_track
    assert _stored("cta", "newcomer") is None


def test_concluded_without_winner_serves_control(cta: ExperimentRow) -> None:
    experiment("cta", "candidate", actor="u1").assigned  # noqa: B018
    _set_status(cta, "concluded")
    assert experiment("cta", actor="u1").assigned.name == "control"


def test_explicit_variant_is_stored_and_sticky(cta: ExperimentRow) -> None:
    actor = next(f"u{i}" for i in range(100) if _deterministic("cta", f"u{i}") == "control")
    exp = experiment("cta", "candidate", actor=actor)
    assert exp.assigned.name == "candidate"
    assert exp.should_track
    assert _stored("cta", actor) == "candidate"
    assert experiment("cta", actor=actor).assigned.name == "candidate"


def test_explicit_variant_overwrites_stored(cta: ExperimentRow) -> None:
    first = experiment("cta", actor="u1").assigned.name
    other = "candidate" if first == "control" else "control"
    assert experiment("cta", other, actor="u1").assigned.name == other
    assert experiment("cta", actor="u1").assigned.name == other


def test_unknown_explicit_variant_is_ignored(
    cta: ExperimentRow, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        exp = experiment("cta", "no-such-variant", actor="u1")
        assert exp.assigned.name == _deterministic("cta", "u1")
    assert _stored("cta", "u1") == exp.assigned.name
    assert "no-such-variant" in caplog.text


def test_stored_variant_that_no_longer_exists_is_reassigned(cta: ExperimentRow) -> None:
    definition = get_definition("cta")
    assert definition is not None
    get_store().set(definition.store_name, key_for("cta", {"actor": "u1"}), "deleted-variant")
    exp = experiment("cta", actor="u1")
    assert exp.assigned.name == _deterministic("cta", "u1")
    assert _stored("cta", "u1") == exp.assigned.name


def test_weight_zero_takes_no_new_assignments_but_keeps_stored(cta: ExperimentRow) -> None:
    stored = {f"u{i}": experiment("cta", actor=f"u{i}").assigned.name for i in range(40)}
    assert "candidate" in stored.values()
    candidate = Treatment.objects.get(experiment=cta, name="candidate")
    candidate.weight = 0
    candidate.save()
    for actor, name in stored.items():
        assert experiment("cta", actor=actor).assigned.name == name
    for i in range(40):
        assert experiment("cta", actor=f"new{i}").assigned.name == "control"
    # An explicit request for the weight-0 variant is still honoured.
    assert experiment("cta", "candidate", actor="new-explicit").assigned.name == "candidate"


def test_unknown_experiment_serves_control_and_warns_once(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        for i in range(5):
            exp = experiment("does-not-exist", actor=f"u{i}")
            assert exp.assigned.name == "control"
            assert exp.assigned.payload is None
            assert not exp.enabled and not exp.should_track
            assert exp.run() == "control"
    warnings = [r for r in caplog.records if "does-not-exist" in r.getMessage()]
    assert len(warnings) == 1
    assert not ExperimentRow.objects.filter(name="does-not-exist").exists()


def test_auto_create_unknown_makes_a_draft_row(db: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "AUTO_CREATE_UNKNOWN": True}
    exp = experiment("brand-new", actor="u1")
    assert exp.assigned.name == "control"
    assert not exp.enabled
    row = ExperimentRow.objects.get(name="brand-new")
    assert row.status == "draft"
    assert list(row.treatments.values_list("name", "is_control")) == [("control", True)]
    # Next resolution sees the draft row: still control, still untracked.
    again = experiment("brand-new", actor="u1")
    assert again.definition is not None and again.definition.status == "draft"
    assert again.assigned.name == "control" and not again.should_track
    experiment("brand-new", actor="u2").assigned  # noqa: B018
    assert ExperimentRow.objects.filter(name="brand-new").count() == 1


def test_only_assigned(cta: ExperimentRow) -> None:
    miss = experiment("cta", actor="u1", only_assigned=True)
    assert miss.assigned.name == "control"
    assert miss.excluded and not miss.should_track
    assert _stored("cta", "u1") is None
    experiment("cta", actor="u1").assigned  # noqa: B018
    hit = experiment("cta", actor="u1", only_assigned=True)
    assert hit.assigned.name == _deterministic("cta", "u1")
    assert not hit.excluded


def test_signature_names_the_key_not_the_ids(cta: ExperimentRow) -> None:
    exp = experiment("cta", actor="alice@example.com")
    signature = exp.signature
    assert signature["experiment"] == "cta"
    assert signature["key"] == key_for("cta", {"actor": "alice@example.com"})
    assert "alice" not in repr(signature)
