"""The definitions snapshot: zero queries once warm, freshness from the database, bad rows."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from django_experiments import experiment
from django_experiments.engine import definitions
from django_experiments.engine.definitions import all_definitions, get_definition
from django_experiments.engine.hooks import hooks
from django_experiments.loader import load_from_db
from django_experiments.models import Experiment, Phase, Treatment


def _resolve_many(n: int = 50) -> set[str]:
    names = set()
    for i in range(n):
        exp = experiment("cta", actor=f"u{i}")
        names.add(exp.assigned.name)
        assert exp.enabled and exp.should_track
    return names


def _as_other_process(state: tuple[Any, float]) -> None:
    """Put back a snapshot taken earlier: this process now behaves like one that loaded then."""
    definitions._snapshot.definitions, definitions._snapshot.checked_at = state


def _take() -> tuple[Any, float]:
    snap = definitions._snapshot
    return snap.definitions, snap.checked_at


def _ttl_passes(settings: Any) -> None:
    definitions._snapshot.checked_at -= settings.DJANGO_EXPERIMENTS.get("DEFINITIONS_TTL", 5) + 1


def test_zero_queries_per_resolution_once_warm(
    make_experiment: Any, django_assert_num_queries: Any
) -> None:
    make_experiment("cta", control=1, candidate=1)
    experiment("cta", actor="warm-up").assigned  # noqa: B018
    with django_assert_num_queries(0):
        assert _resolve_many() == {"control", "candidate"}
        experiment("unknown-name", actor="u1").assigned  # noqa: B018


def test_change_takes_effect_immediately_in_the_saving_process(make_experiment: Any) -> None:
    exp = make_experiment("cta", control=1, candidate=1)
    assert experiment("cta", actor="u1").enabled
    exp.status = "paused"
    exp.save()
    assert not experiment("cta", actor="u1").enabled
    Treatment.objects.filter(experiment=exp, name="candidate").update(weight=3)
    Treatment.objects.get(experiment=exp, name="control").save()
    definition = get_definition("cta")
    assert definition is not None
    assert definition.effective_shares() == {"control": 0.25, "candidate": 0.75}


def test_other_process_picks_up_change_within_ttl(
    make_experiment: Any, settings: Any, django_assert_num_queries: Any
) -> None:
    exp = make_experiment("cta", control=1, candidate=1)
    assert get_definition("cta").status == "running"  # type: ignore[union-attr]
    other = _take()

    exp.status = "paused"
    exp.save()  # this (the saving) process sees it at once
    assert get_definition("cta").status == "paused"  # type: ignore[union-attr]

    _as_other_process(other)
    # Within the TTL the other process may still serve what it had...
    assert get_definition("cta").status == "running"  # type: ignore[union-attr]
    # ...and once the TTL has passed it reloads from the database: four queries (the
    # experiments with their namespaces, treatments, open phases, the global holdout).
    _ttl_passes(settings)
    with django_assert_num_queries(4):
        assert get_definition("cta").status == "paused"  # type: ignore[union-attr]


def test_ttl_zero_reloads_every_time(make_experiment: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "DEFINITIONS_TTL": 0}
    exp = make_experiment("cta", control=1, candidate=1)
    all_definitions()
    Experiment.objects.filter(pk=exp.pk).update(status="draft")  # no signals
    assert get_definition("cta").status == "draft"  # type: ignore[union-attr]


@pytest.mark.parametrize("how", ["update", "raw_sql"])
def test_changes_without_signals_are_seen_within_the_ttl(
    make_experiment: Any, settings: Any, how: str
) -> None:
    exp = make_experiment("cta", control=1, candidate=1)
    assert experiment("cta", actor="u1").enabled
    if how == "update":
        Experiment.objects.filter(pk=exp.pk).update(status="draft")
    else:
        with connection.cursor() as cursor:
            table = Experiment._meta.db_table
            cursor.execute(f"UPDATE {table} SET status = %s WHERE id = %s", ["draft", exp.pk])
    # No signal reached this process: it may serve the old status until the TTL passes...
    assert get_definition("cta").status == "running"  # type: ignore[union-attr]
    _ttl_passes(settings)
    # ...and not a moment longer, whoever else shares a cache with it.
    assert get_definition("cta").status == "draft"  # type: ignore[union-attr]
    assert not experiment("cta", actor="u1").enabled


def test_a_change_landing_during_a_reload_is_seen_at_the_next_one(
    make_experiment: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of the old shared-cache design: another process's commit (and its
    invalidation) lands between this process's read and the moment it keeps the snapshot.
    Nothing is written back any more, so the next reload after the TTL sees the change."""
    exp = make_experiment("cta", control=1, candidate=1)
    definitions.invalidate()
    real = hooks.load_definitions

    def load_then_other_process_commits() -> Any:
        loaded = real()
        Experiment.objects.filter(pk=exp.pk).update(status="draft")
        definitions.invalidate()  # the other process's signal: nothing reaches us anyway
        return loaded

    monkeypatch.setattr(hooks, "load_definitions", load_then_other_process_commits)
    assert get_definition("cta").status == "running"  # type: ignore[union-attr]
    monkeypatch.setattr(hooks, "load_definitions", real)
    _ttl_passes(settings)
    assert get_definition("cta").status == "draft"  # type: ignore[union-attr]


def test_a_dead_cache_is_not_in_the_way(
    make_experiment: Any, settings: Any, dead_cache: str
) -> None:
    settings.CACHES = {**settings.CACHES, "default": settings.CACHES[dead_cache]}
    make_experiment("cta", control=1, candidate=1)  # signals invalidate: must not raise
    definitions.invalidate()
    assert experiment("cta", actor="u1").enabled


def test_an_unreadable_database_keeps_the_last_snapshot(
    make_experiment: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_experiment("cta", control=1, candidate=1)
    assert experiment("cta", actor="u1").enabled

    def broken() -> Any:
        raise RuntimeError("database is down")

    monkeypatch.setattr(hooks, "load_definitions", broken)
    _ttl_passes(settings)
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        assert experiment("cta", actor="u1").enabled  # the last snapshot, not a 500
        definitions.invalidate()
        cold = experiment("cta", actor="u1")  # no snapshot at all: control, untracked
        assert cold.assigned.name == "control"
        assert not cold.should_track
    assert "Loading experiment definitions failed" in caplog.text


def test_uncommitted_definitions_are_not_kept(make_experiment: Any, settings: Any) -> None:
    exp = make_experiment("cta", control=1, candidate=1)
    all_definitions()

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        exp.status = "paused"
        exp.save()
        # The saving transaction sees its own change...
        assert get_definition("cta").status == "paused"  # type: ignore[union-attr]
        # ...but the process does not keep it as its snapshot: it may never commit.
        assert definitions._snapshot.definitions is None
        raise Rollback
    assert get_definition("cta").status == "running"  # type: ignore[union-attr]


def test_invalid_weight_rows_do_not_break_resolution(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1)
    make_experiment("other", control=1, candidate=1)
    # Written around validation (raw SQL, a bad migration): negative weight.
    Treatment.objects.filter(experiment__name="cta", name="candidate").update(weight=-1)
    definitions.invalidate()
    cta = get_definition("cta")
    assert cta is not None
    assert cta.effective_shares() == {"control": 1.0, "candidate": 0.0}
    assert get_definition("other") is not None
    assert experiment("cta", actor="u1").assigned.name == "control"


def test_corrupt_phase_table_is_laid_out_afresh(
    make_experiment: Any, caplog: pytest.LogCaptureFixture
) -> None:
    exp = make_experiment("cta", control=1, candidate=1)
    now = timezone.now()
    Phase.objects.create(
        experiment=exp,
        number=1,
        reason="created",
        started_at=now,
        salt=exp.salt,
        weights={"control": "1", "candidate": "1"},
        slot_table="garbage",
    )
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        definition = load_from_db()["cta"]
    assert definition.effective_shares() == {"control": 0.5, "candidate": 0.5}
    assert "corrupt slot table" in caplog.text


def test_phase_table_naming_a_missing_treatment_is_rebalanced(make_experiment: Any) -> None:
    exp = make_experiment("cta", control=1, candidate=1)
    Phase.objects.create(
        experiment=exp,
        number=1,
        reason="created",
        started_at=timezone.now(),
        salt=exp.salt,
        weights={"control": "1", "candidate": "1"},
        slot_table=[[0, 5000, "control"], [5000, 10000, "ghost"]],
    )
    definition = load_from_db()["cta"]
    # control keeps its slots; the ghost's go to candidate.
    assert definition.ranges == ((0, 5000, "control"), (5000, 10000, "candidate"))


def test_missing_control_and_missing_treatments(db: Any) -> None:
    no_control = Experiment.objects.create(name="no-control", status="running")
    Treatment.objects.create(experiment=no_control, name="first", weight=Decimal(1))
    Experiment.objects.create(name="empty", status="running")
    loaded = load_from_db()
    assert loaded["no-control"].control == "first"
    assert loaded["empty"].control == "control"
    empty = experiment("empty", actor="u1")
    assert empty.assigned.name == "control"
    assert experiment("no-control", actor="u1").assigned.name == "first"


def test_a_reload_makes_four_queries_whatever_the_phases(
    make_experiment: Any, committed: Any, django_assert_num_queries: Any
) -> None:
    # The loader runs once per DEFINITIONS_TTL in every process: a query per phase (a
    # deferred field read in the loop) would grow with the experiments' history.
    for name in ("cta", "banner", "pricing"):
        with committed():
            exp = make_experiment(name, control=1, candidate=1)
        for weight in (2, 3):
            with committed():
                candidate = exp.treatments.get(name="candidate")
                candidate.weight = Decimal(weight)
                candidate.save()
    assert Phase.objects.count() == 9
    with django_assert_num_queries(4):
        loaded = load_from_db()
    assert loaded["cta"].effective_shares() == {"control": 0.25, "candidate": 0.75}
