"""The definitions snapshot: zero queries once warm, freshness, corrupt caches, bad rows."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone

from django_experiments import experiment
from django_experiments.engine import definitions
from django_experiments.engine.definitions import (
    BLOB_KEY,
    SCHEMA,
    VERSION_KEY,
    Definition,
    all_definitions,
    get_definition,
    load_from_db,
)
from django_experiments.models import Experiment, Phase, Treatment


def _resolve_many(n: int = 50) -> set[str]:
    names = set()
    for i in range(n):
        exp = experiment("cta", actor=f"u{i}")
        names.add(exp.assigned.name)
        assert exp.enabled and exp.should_track
    return names


def _as_other_process(state: tuple[Any, Any, float]) -> None:
    """Put back a snapshot taken earlier: this process now behaves like one that loaded then."""
    definitions._snapshot.definitions, definitions._snapshot.version = state[0], state[1]
    definitions._snapshot.checked_at = state[2]


def _take() -> tuple[Any, Any, float]:
    snap = definitions._snapshot
    return snap.definitions, snap.version, snap.checked_at


def test_zero_queries_per_resolution_once_warm(
    make_experiment: Any, django_assert_num_queries: Any
) -> None:
    make_experiment("cta", control=1, candidate=1)
    experiment("cta", actor="warm-up").assigned  # noqa: B018
    with django_assert_num_queries(0):
        assert _resolve_many() == {"control", "candidate"}
        experiment("unknown-name", actor="u1").assigned  # noqa: B018


def test_zero_queries_when_another_process_loads_the_shared_blob(
    make_experiment: Any, django_assert_num_queries: Any
) -> None:
    make_experiment("cta", control=1, candidate=1)
    all_definitions()  # this process publishes the blob
    assert caches["default"].get(BLOB_KEY)["version"] == caches["default"].get(VERSION_KEY)
    definitions.invalidate(shared=False)  # a cold process sharing the cache
    with django_assert_num_queries(0):
        assert _resolve_many() == {"control", "candidate"}


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
    # ...and once the TTL has passed it sees the change, from the shared blob, not the DB.
    definitions._snapshot.checked_at -= settings.DJANGO_EXPERIMENTS.get("DEFINITIONS_TTL", 5) + 1
    with django_assert_num_queries(0):
        assert get_definition("cta").status == "paused"  # type: ignore[union-attr]


def test_ttl_zero_checks_the_version_every_time(
    make_experiment: Any, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "DEFINITIONS_TTL": 0}
    exp = make_experiment("cta", control=1, candidate=1)
    all_definitions()
    other = _take()
    exp.status = "draft"
    exp.save()
    all_definitions()  # republish
    _as_other_process(other)
    with django_assert_num_queries(0):
        assert get_definition("cta").status == "draft"  # type: ignore[union-attr]


def test_clearing_only_the_in_process_snapshot_reloads(make_experiment: Any) -> None:
    exp = make_experiment("cta", control=1, candidate=1)
    all_definitions()
    Experiment.objects.filter(pk=exp.pk).update(status="concluded")  # no signals
    assert get_definition("cta").status == "running"  # type: ignore[union-attr]
    caches["default"].delete(BLOB_KEY)
    definitions._snapshot.definitions = None
    assert get_definition("cta").status == "concluded"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "blob",
    [
        "not a dict",
        {"schema": SCHEMA},
        {"schema": SCHEMA, "version": "<v>", "experiments": 5},
        {"schema": SCHEMA, "version": "<v>", "experiments": ["cta"]},
        {"schema": SCHEMA, "version": "<v>", "experiments": [{"name": "cta"}]},
        {
            "schema": SCHEMA,
            "version": "<v>",
            "experiments": [
                {
                    "name": "cta",
                    "status": "running",
                    "salt": "s",
                    "treatments": [["control", 1, True, None]],
                    "control": "control",
                    "winner": None,
                    "ranges": [[0, 10000, "ghost"]],
                    "phase": 1,
                }
            ],
        },
        {"schema": 999, "version": "<v>", "experiments": []},
    ],
    ids=["str", "no-version", "int-list", "str-item", "missing-keys", "ghost", "schema"],
)
def test_corrupt_blob_reloads_from_db(
    blob: Any, make_experiment: Any, caplog: pytest.LogCaptureFixture
) -> None:
    make_experiment("cta", control=1, candidate=1)
    cache = caches["default"]
    cache.set(VERSION_KEY, "v-corrupt", None)
    if isinstance(blob, dict) and blob.get("version") == "<v>":
        blob = {**blob, "version": "v-corrupt"}
    cache.set(BLOB_KEY, blob, None)
    definitions.invalidate(shared=False)
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        assert _resolve_many(20) == {"control", "candidate"}
    # The blob is repaired for every other process.
    repaired = cache.get(BLOB_KEY)
    assert repaired["version"] == "v-corrupt"
    assert [d["name"] for d in repaired["experiments"]] == ["cta"]


def test_shared_cache_unreachable_falls_back_to_db(
    make_experiment: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "dead": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "DEFINITIONS_CACHE_ALIAS": "dead"}
    make_experiment("cta", control=1, candidate=1)  # signals invalidate: must not raise
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        assert experiment("cta", actor="u1").enabled
    assert "Definitions cache unreachable" in caplog.text


def test_unknown_definitions_cache_alias_does_not_crash(
    make_experiment: Any, settings: Any
) -> None:
    make_experiment("cta", control=1, candidate=1)
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "DEFINITIONS_CACHE_ALIAS": "nope"}
    definitions.invalidate(shared=False)
    assert experiment("cta", actor="u1").enabled


def test_uncommitted_definitions_are_not_published(make_experiment: Any) -> None:
    exp = make_experiment("cta", control=1, candidate=1)
    all_definitions()

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        exp.status = "paused"
        exp.save()
        # The saving process sees its own change...
        assert get_definition("cta").status == "paused"  # type: ignore[union-attr]
        # ...but it is not published: it may never commit.
        assert caches["default"].get(BLOB_KEY) is None
        raise Rollback
    # Rolled back: this process serves the stale view at most until its next TTL check.
    definitions._snapshot.checked_at -= 10
    assert get_definition("cta").status == "running"  # type: ignore[union-attr]
    assert caches["default"].get(BLOB_KEY)["experiments"][0]["status"] == "running"


def test_transactions_without_changes_still_publish(make_experiment: Any) -> None:
    """ATOMIC_REQUESTS wraps every view in a transaction: that alone must not stop sharing."""
    exp = make_experiment("cta", control=1, candidate=1)
    with pytest.raises(RuntimeError), transaction.atomic():
        exp.status = "paused"
        exp.save()
        all_definitions()
        raise RuntimeError("rolled back")
    caches["default"].delete(BLOB_KEY)
    definitions.invalidate(shared=False)
    with transaction.atomic():
        assert get_definition("cta").status == "running"  # type: ignore[union-attr]
        assert caches["default"].get(BLOB_KEY)["experiments"][0]["status"] == "running"


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


def test_json_round_trip(make_experiment: Any) -> None:
    exp = make_experiment("cta", control=1, candidate=3)
    exp.winner = exp.treatments.get(name="candidate")
    exp.client_visible = True
    exp.save()
    original = load_from_db()["cta"]
    copy = Definition.from_json(original.to_json())
    assert copy == original
    assert copy.table == original.table
    assert copy.winner == "candidate"
    assert copy.by_name["candidate"].payload == {"label": "candidate"}
    assert copy.store_name == "cta"
