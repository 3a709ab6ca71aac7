"""The explicit multi-read: ``prefetch(names, ...)`` reads several experiments in one trip."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from django_experiments import experiment, prefetch
from django_experiments.engine.context import key_for
from django_experiments.engine.scope import Scope, activate, anonymous_identity
from django_experiments.engine.stores import CacheStore, RedisHashStore, get_store
from django_experiments.testing import stub_experiments

pytestmark = pytest.mark.django_db

NAMES = ("one", "two", "three")
VISITOR = "f" * 32


@pytest.fixture
def three(make_experiment: Any) -> None:
    for name in NAMES:
        make_experiment(name, control=1, b=1)


def visit(*, fetch: bool = True, names: tuple[str, ...] = NAMES) -> dict[str, str]:
    """A returning visitor's request resolving ``names`` (prefetched first if ``fetch``)."""
    scope = Scope(anonymous_id=VISITOR)
    with activate(scope):
        if fetch:
            prefetch(names, actor=None)
        return {name: experiment(name, actor=None).assigned.name for name in names}


def test_a_returning_visitor_reads_every_experiment_in_one_round_trip(
    redis_store: Any, three: None, round_trips: list[int]
) -> None:
    first = visit(fetch=False)  # stores the three assignments: one claim each
    get_store().client.ping()
    round_trips.clear()
    assert visit(fetch=False) == first
    assert len(round_trips) == 3  # without the multi-read: one round trip per experiment
    round_trips.clear()
    assert visit() == first
    assert len(round_trips) == 1


def test_a_miss_is_still_claimed_atomically(
    redis_store: Any, three: None, round_trips: list[int]
) -> None:
    visit()
    actor = anonymous_identity(VISITOR)
    key = key_for("two", {"actor": actor})
    get_store().delete("two", key)
    scope = Scope(anonymous_id=VISITOR)
    with activate(scope):
        prefetch(NAMES, actor=None)
        assert scope.known[("two", key)] is None
        get_store().set("two", key, "b")  # another request of the visitor assigns meanwhile
        # The absence read by the prefetch is not trusted: the claim finds the stored "b".
        assert experiment("two", actor=None).assigned.name == "b"


def test_a_new_visitor_has_nothing_to_read(
    redis_store: Any, three: None, round_trips: list[int]
) -> None:
    get_store().client.ping()
    round_trips.clear()
    scope = Scope(deferring=True)
    with activate(scope):
        experiment("one", actor=None).assigned  # noqa: B018 - mints the id
        assert prefetch(NAMES, actor=None) == 0
    assert round_trips == []


def test_without_a_scope_there_is_nowhere_to_remember(redis_store: Any, three: None) -> None:
    assert prefetch(NAMES, actor="user-1") == 0


def test_a_dead_store_falls_back_to_deterministic(
    three: None, dead_redis: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        fetched = visit()
    with activate(Scope()):
        expected = {n: experiment(n, actor=f"anon:{VISITOR}").assigned.name for n in NAMES}
    assert fetched == expected


def test_stubbed_experiments_are_not_read_from_the_real_store(
    redis_store: Any, three: None
) -> None:
    scope = Scope(anonymous_id=VISITOR)
    with stub_experiments(one="b"), activate(scope):
        assert prefetch(NAMES, actor=None) == 2


@pytest.mark.parametrize("backend", ["redis", "cache"])
def test_get_many_reads_in_order(backend: str, redis_store: Any) -> None:
    store = RedisHashStore(alias="redis") if backend == "redis" else CacheStore(alias="default")
    store.set("cta", "k1", "control")
    store.set("other", "k2", "b")
    assert store.get_many([("other", "k2"), ("cta", "missing"), ("cta", "k1")]) == [
        "b",
        None,
        "control",
    ]
