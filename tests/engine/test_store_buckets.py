"""The Redis store with STORE_BUCKETS: one experiment spread over small hashes."""

from __future__ import annotations

from typing import Any

import pytest

from django_experiments import experiment
from django_experiments.engine.context import key_for
from django_experiments.engine.stores import RedisHashStore, get_store


@pytest.fixture
def bucketed(redis_store: Any, settings: Any) -> RedisHashStore:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE_BUCKETS": 16}
    store = get_store()
    assert isinstance(store, RedisHashStore) and store.buckets == 16
    return store


def keys(n: int) -> list[str]:
    return [key_for("cta", {"actor": f"u{i}"}) for i in range(n)]


def test_assignments_spread_over_buckets_with_a_hash_tag(
    bucketed: RedisHashStore, redis_store: Any
) -> None:
    for k in keys(200):
        bucketed.set("cta", k, "candidate")
    names = sorted(n.decode() for n in redis_store.keys("glex:{cta}:*"))
    assert len(names) == 16
    assert sum(redis_store.hlen(n) for n in names) == 200
    # Small hashes stay in Redis's compact encoding: the point of bucketing.
    assert {redis_store.object("encoding", n) for n in names} == {b"listpack"}
    assert all(bucketed.get("cta", k) == "candidate" for k in keys(200))


def test_get_or_set_and_migration_across_buckets(bucketed: RedisHashStore) -> None:
    old, new = next(
        (a, b)
        for a, b in zip(keys(50), keys(50)[1:], strict=False)
        if bucketed.hash_key("cta", a) != bucketed.hash_key("cta", b)
    )
    bucketed.set("cta", old, "candidate")
    assert bucketed.get_or_set("cta", new, "control", [old]) == "candidate"
    assert bucketed.get("cta", new) == "candidate"
    assert bucketed.get("cta", old) is None
    assert bucketed.get_or_set("cta", new, "control") == "candidate"


def test_login_migration_across_buckets(bucketed: RedisHashStore) -> None:
    anon, user = keys(2)
    bucketed.set("cta", anon, "candidate")
    assert bucketed.migrate([("cta", anon, user)]) == {"cta": "candidate"}
    assert bucketed.get("cta", user) == "candidate"
    assert bucketed.get("cta", anon) is None


def test_clear_removes_every_bucket_and_the_counter(
    bucketed: RedisHashStore, redis_store: Any
) -> None:
    for k in keys(100):
        bucketed.set("cta", k, "control")
    bucketed.set("other", keys(1)[0], "control")
    bucketed.increment("cta")
    bucketed.clear("cta")
    assert redis_store.keys("glex:{cta}:*") == []
    assert not redis_store.exists("glex:cta:attrs")
    assert redis_store.keys("glex:{other}:*") != []


def test_resolution_sticks_with_buckets(bucketed: RedisHashStore, make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=0)
    assert experiment("cta", "candidate", actor="ann").assigned.name == "candidate"
    assert experiment("cta", actor="ann").assigned.name == "candidate"
    assert experiment("cta", actor="bob").assigned.name == "control"


def test_negative_buckets_is_a_settings_error(settings: Any) -> None:
    from django_experiments import checks

    settings.DJANGO_EXPERIMENTS = {"STORE_BUCKETS": -1}
    assert [m.id for m in checks.check_settings()] == ["django_experiments.E011"]
