"""Stores: Redis hash per experiment, any Django cache, none; stickiness and Redis failure."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import caches

from django_experiments import experiment
from django_experiments.engine.context import key_for
from django_experiments.engine.definitions import get_definition
from django_experiments.engine.stores import (
    COUNTER_FIELD,
    CacheStore,
    NullStore,
    RedisHashStore,
    Store,
    get_store,
)
from django_experiments.models import Treatment

# --- Redis hash store on a real Redis ------------------------------------------------------


def test_redis_one_hash_per_experiment_field_is_context_key(redis_store: Any) -> None:
    store = get_store()
    assert isinstance(store, RedisHashStore)
    store.set("cta", "k1", "candidate")
    store.set("cta", "k2", "control")
    store.set("other", "k1", "control")
    assert redis_store.hgetall("glex:cta") == {b"k1": b"candidate", b"k2": b"control"}
    assert redis_store.hgetall("glex:other") == {b"k1": b"control"}
    assert store.get("cta", "k1") == "candidate"
    assert store.get("cta", "missing") is None
    store.delete("cta", "k1")
    assert store.get("cta", "k1") is None


def test_redis_clear_is_per_experiment(redis_store: Any) -> None:
    store = get_store()
    store.set("cta", "k1", "candidate")
    store.increment("cta")
    store.set("other", "k1", "control")
    store.clear("cta")
    assert not redis_store.exists("glex:cta")
    assert not redis_store.exists("glex:cta:attrs")
    assert store.get("other", "k1") == "control"


def test_redis_round_robin_counter_uses_hincrby(redis_store: Any) -> None:
    store = get_store()
    assert [store.increment("cta") for _ in range(3)] == [1, 2, 3]
    assert redis_store.hget("glex:cta:attrs", COUNTER_FIELD) == b"3"
    # The counter lives beside the assignments hash, never as a context field.
    assert not redis_store.hexists("glex:cta", COUNTER_FIELD)
    assert store.increment("other") == 1


def test_redis_get_moves_migration_key(redis_store: Any) -> None:
    store = get_store()
    store.set("cta", "old", "candidate")
    assert store.get("cta", "new", ["old"]) == "candidate"
    assert redis_store.hgetall("glex:cta") == {b"new": b"candidate"}
    # The new key's own value wins, and the old one is deleted anyway.
    store.set("cta", "old2", "candidate")
    store.set("cta", "new2", "control")
    assert store.get("cta", "new2", ["old2"]) == "control"
    assert not redis_store.hexists("glex:cta", "old2")


def test_redis_migrate_moves_and_deletes_old(redis_store: Any) -> None:
    store = get_store()
    store.set("a", "old", "candidate")
    store.set("b", "old", "candidate")
    store.set("b", "new", "control")
    moved = store.migrate([("a", "old", "new"), ("b", "old", "new"), ("c", "old", "new")])
    assert moved == {"a": "candidate", "b": "control"}
    assert redis_store.hgetall("glex:a") == {b"new": b"candidate"}
    assert redis_store.hgetall("glex:b") == {b"new": b"control"}
    assert store.migrate([]) == {}


# --- cache store ---------------------------------------------------------------------------


@pytest.fixture
def cache_store(settings: Any) -> CacheStore:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": "cache"}
    store = get_store()
    assert isinstance(store, CacheStore)
    return store


def test_cache_store_semantics(cache_store: CacheStore) -> None:
    cache_store.set("cta", "k1", "candidate")
    assert caches["default"].get("glex:cta:k1") == "candidate"
    assert cache_store.get("cta", "k1") == "candidate"
    assert cache_store.get("other", "k1") is None
    cache_store.delete("cta", "k1")
    assert cache_store.get("cta", "k1") is None
    assert [cache_store.increment("cta") for _ in range(3)] == [1, 2, 3]
    cache_store.clear("cta")
    assert cache_store.increment("cta") == 1


def test_cache_store_migration(cache_store: CacheStore) -> None:
    cache_store.set("cta", "old", "candidate")
    assert cache_store.get("cta", "new", ["old"]) == "candidate"
    assert cache_store.get("cta", "old") is None
    assert cache_store.get("cta", "new") == "candidate"
    cache_store.set("cta", "old2", "candidate")
    cache_store.set("cta", "new2", "control")
    assert cache_store.migrate([("cta", "old2", "new2"), ("cta", "nothing", "x")]) == {
        "cta": "control"
    }
    assert cache_store.get("cta", "old2") is None


def test_cache_store_over_django_redis_clears_by_pattern(redis_store: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": "cache"}
    store = get_store()
    assert isinstance(store, CacheStore) and store.alias == "redis"
    store.set("cta", "k1", "candidate")
    store.set("other", "k1", "control")
    store.clear("cta")
    assert store.get("cta", "k1") is None
    assert store.get("other", "k1") == "control"


def test_null_store_keeps_nothing(settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": "none"}
    store = get_store()
    assert isinstance(store, NullStore)
    store.set("cta", "k1", "candidate")
    assert store.get("cta", "k1") is None
    assert store.get("cta", "k1", ["old"]) is None
    assert store.migrate([("cta", "a", "b")]) == {}
    first = store.increment("null-counter")
    assert store.increment("null-counter") == first + 1
    store.delete("cta", "k1")
    store.clear("cta")


def test_store_by_dotted_path(settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "STORE": "django_experiments.engine.stores.CacheStore",
        "STORE_KEY_PREFIX": "custom",
    }
    store = get_store()
    assert isinstance(store, CacheStore) and store.prefix == "custom"


def test_base_store_is_an_interface() -> None:
    with pytest.raises(NotImplementedError):
        Store().get("cta", "k")


# --- stickiness through experiment() on every store ----------------------------------------


@pytest.fixture(params=["redis", "cache", "none"])
def store_kind(request: Any, settings: Any) -> str:
    kind: str = request.param
    if kind == "redis":
        request.getfixturevalue("redis_store")
    else:
        settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": kind}
    return kind


def test_assignments_stick_across_weight_changes(store_kind: str, make_experiment: Any) -> None:
    exp = make_experiment("cta", control=1, candidate=1)
    first = {f"u{i}": experiment("cta", actor=f"u{i}").assigned.name for i in range(40)}
    assert set(first.values()) == {"control", "candidate"}  # control is stored like any variant
    # Everyone new now goes to control; the stored ones must not move.
    Treatment.objects.filter(experiment=exp, name="candidate").update(weight=0)
    Treatment.objects.get(experiment=exp, name="control").save()  # signals: invalidate
    again = {u: experiment("cta", actor=u).assigned.name for u in first}
    if store_kind == "none":
        assert set(again.values()) == {"control"}
    else:
        assert again == first
    assert experiment("cta", actor="newcomer").assigned.name == "control"


def test_control_is_stored(store_kind: str, make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=0)
    assert experiment("cta", actor="u1").assigned.name == "control"
    definition = get_definition("cta")
    assert definition is not None
    stored = get_store().get(definition.store_name, key_for("cta", {"actor": "u1"}))
    assert stored == (None if store_kind == "none" else "control")


# --- Redis unreachable -------------------------------------------------------------------


def test_unreachable_redis_gives_deterministic_assignment(
    dead_redis: None, make_experiment: Any, caplog: pytest.LogCaptureFixture
) -> None:
    make_experiment("cta", control=1, candidate=1)
    definition = get_definition("cta")
    assert definition is not None
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        for i in range(20):
            exp = experiment("cta", actor=f"u{i}")
            expected = definition.treatment_for_key(key_for("cta", {"actor": f"u{i}"}))
            assert expected is not None
            assert exp.assigned.name == expected.name
            assert exp.enabled
        explicit = experiment("cta", "candidate", actor="u-explicit")
        assert explicit.assigned.name == "candidate"
    warnings = [r for r in caplog.records if "Assignment store" in r.getMessage()]
    # Warned, but once a minute rather than once per resolution.
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


def test_unreachable_redis_round_robin_still_answers(
    dead_redis: None, make_experiment: Any
) -> None:
    from django_experiments import Experiment, RoundRobin

    class RR(Experiment):
        name = "cta"
        rollout = RoundRobin

    make_experiment("cta", control=1, candidate=1)
    assert RR(actor="u1").assigned.name in {"control", "candidate"}


@pytest.mark.parametrize("kind", ["redis", "cache"])
def test_migrated_from_moves_the_assignment_to_the_new_key(
    kind: str, make_experiment: Any, settings: Any, request: Any
) -> None:
    if kind == "redis":
        request.getfixturevalue("redis_store")
    else:
        settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": "cache"}
    make_experiment("cta", control=1, candidate=1)
    old_key = key_for("cta", {"actor": "anon:abc"})
    get_store().set("cta", old_key, "candidate")
    exp = experiment("cta", actor="user:1", migrated_from={"actor": "anon:abc"})
    assert exp.assigned.name == "candidate"
    assert exp.signature["migration_keys"] == [old_key]
    assert get_store().get("cta", old_key) is None
    assert get_store().get("cta", key_for("cta", {"actor": "user:1"})) == "candidate"


def test_unimportable_store_falls_back_to_deterministic(
    make_experiment: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": "no.such.Store"}
    make_experiment("cta", control=1, candidate=1)
    definition = get_definition("cta")
    assert definition is not None
    expected = definition.treatment_for_key(key_for("cta", {"actor": "u1"}))
    assert expected is not None
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        assert experiment("cta", actor="u1").assigned.name == expected.name
    assert "Assignment store" in caplog.text


def test_redis_get_or_set_is_one_round_trip_and_first_writer_wins(redis_store: Any) -> None:
    store = RedisHashStore(alias="redis", prefix="t")
    assert store.get_or_set("exp", "k1", "candidate") == "candidate"
    # Already stored: the stored value wins over a new choice.
    assert store.get_or_set("exp", "k1", "control") == "candidate"
    assert redis_store.hget("t:exp", "k1") == b"candidate"
    before = redis_store.info("commandstats")
    store.get_or_set("exp", "k2", "control")
    after = redis_store.info("commandstats")

    def calls(stats: dict[str, Any]) -> int:
        return sum(v["calls"] for k, v in stats.items() if k.startswith("cmdstat_eval"))

    assert calls(after) - calls(before) == 1
    # A migration key's value moves to the new key in the same call.
    redis_store.hset("t:exp", "old", "candidate")
    assert store.get_or_set("exp", "new", "control", ["old"]) == "candidate"
    assert redis_store.hget("t:exp", "new") == b"candidate"
    assert redis_store.hget("t:exp", "old") is None


def test_base_get_or_set_reads_then_writes(settings: Any) -> None:
    store = CacheStore(alias="default", prefix="gos")
    assert store.get_or_set("exp", "k", "candidate") == "candidate"
    assert store.get_or_set("exp", "k", "control") == "candidate"
    assert NullStore().get_or_set("exp", "k", "control") == "control"
