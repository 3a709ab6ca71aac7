"""Prefetch: a returning visitor's experiments on a known route cost one store round trip."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from django_experiments import experiment
from django_experiments.engine import prefetch
from django_experiments.engine.context import key_for
from django_experiments.engine.scope import Scope, activate, anonymous_identity
from django_experiments.engine.stores import CacheStore, RedisHashStore, get_store

pytestmark = pytest.mark.django_db

NAMES = ("one", "two", "three")
VISITOR = "f" * 32


@pytest.fixture
def three(make_experiment: Any) -> None:
    for name in NAMES:
        make_experiment(name, control=1, b=1)


def visit(route: str = "GET page/", names: tuple[str, ...] = NAMES, **context: Any) -> Scope:
    """A returning visitor's request on ``route`` (what the middleware sets up and ends)."""
    scope = Scope(anonymous_id=VISITOR, route_of=route)
    with activate(scope):
        for name in names:
            experiment(name, actor=None, **context).assigned  # noqa: B018
    prefetch.learn(scope)
    return scope


def variants(scope: Scope) -> dict[str, str | None]:
    return {name: value for (name, _), value in scope.known.items()}


def test_the_second_request_on_a_route_reads_its_experiments_at_once(
    redis_store: Any, three: None, round_trips: list[int]
) -> None:
    first = visit()  # learns the route: one get-or-set per experiment
    assert set(prefetch.hint("GET page/")) == set(NAMES)
    get_store().client.ping()
    round_trips.clear()
    second = visit()
    assert len(round_trips) == 1
    assert variants(second) == variants(first)


def test_a_miss_is_still_stored_through_get_or_set(
    redis_store: Any, three: None, make_experiment: Any, round_trips: list[int]
) -> None:
    visit()
    make_experiment("four", control=1, b=1)
    get_store().client.ping()
    round_trips.clear()
    scope = visit(names=(*NAMES, "four"))
    # One pipeline for the three known ones, one get-or-set for the newcomer.
    assert len(round_trips) == 2
    actor = anonymous_identity(VISITOR)
    stored = get_store().get("four", key_for("four", {"actor": actor}))
    assert stored is not None and stored == scope.known[("four", key_for("four", {"actor": actor}))]
    # The route now knows four experiments.
    assert set(prefetch.hint("GET page/")) == {*NAMES, "four"}


def test_an_assignment_deleted_since_is_reassigned(redis_store: Any, three: None) -> None:
    visit()
    key = key_for("one", {"actor": anonymous_identity(VISITOR)})
    get_store().delete("one", key)
    scope = visit()
    assert get_store().get("one", key) == scope.known[("one", key)]


def test_other_contexts_do_not_take_part(redis_store: Any, three: None) -> None:
    visit(sticky_to="account:1")
    visit(route="GET other/", project="p1")
    assert prefetch.hint("GET page/") == ()
    assert prefetch.hint("GET other/") == ()


def test_only_experiments_that_read_the_store_are_fetched(
    redis_store: Any, three: None, round_trips: list[int]
) -> None:
    from django_experiments.models import Experiment

    visit()
    Experiment.objects.filter(name="three").update(status="concluded")
    from django_experiments.engine import definitions

    definitions.invalidate(shared=False)
    get_store().client.ping()
    round_trips.clear()
    visit(names=("one", "two"))
    assert len(round_trips) == 1


def test_a_dead_store_falls_back_to_deterministic(
    three: None, dead_redis: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        first = visit()
        second = visit()  # prefetch fails, each resolution fails, all deterministic
    with activate(Scope()):
        expected = {n: experiment(n, actor=f"anon:{VISITOR}").assigned.name for n in NAMES}
    assert variants(first) == variants(second) == {}  # nothing could be read or stored
    with activate(Scope(anonymous_id=VISITOR)):
        assert {n: experiment(n, actor=None).assigned.name for n in NAMES} == expected


def test_hints_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch, "MAX_ROUTES", 3)
    monkeypatch.setattr(prefetch, "MAX_NAMES", 2)
    for n in range(5):
        scope = Scope(route_of=f"GET r{n}/")
        scope.store_names.update({"a", "b", "c"})
        prefetch.learn(scope)
    assert prefetch.hint("GET r0/") == ()
    assert prefetch.hint("GET r4/") == ("b", "c")


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


def test_a_route_in_use_is_not_the_one_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch, "MAX_ROUTES", 3)

    def serve(route: str) -> None:
        scope = Scope(route_of=route)
        scope.store_names.update({"a", "b"})
        prefetch.learn(scope)

    for route in ("GET a/", "GET b/", "GET c/", "GET a/", "GET d/"):
        serve(route)  # "a" served again (nothing new to learn) before "d" arrives
    assert prefetch.hint("GET a/") == ("a", "b")
    assert prefetch.hint("GET b/") == ()


def test_an_absence_read_at_the_start_is_read_again(redis_store: Any, three: None) -> None:
    visit()  # learns the route and stores the visitor's three assignments
    actor = anonymous_identity(VISITOR)
    key = key_for("two", {"actor": actor})
    get_store().delete("two", key)
    scope = Scope(anonymous_id=VISITOR, route_of="GET page/")
    with activate(scope):
        experiment("one", actor=None).assigned  # noqa: B018 - the prefetch: "two" is absent
        assert scope.known[("two", key)] is None
        get_store().set("two", key, "b")  # another request of the visitor assigns meanwhile
        assert experiment("two", actor=None, only_assigned=True).assigned.name == "b"


def test_only_the_configured_store_takes_part(redis_store: Any, three: None) -> None:
    from django_experiments.engine.context import Context
    from django_experiments.engine.stores import NullStore

    scope = Scope(anonymous_id=VISITOR, route_of="GET page/")
    context = Context("one", {"actor": None}, scope=scope)
    assert prefetch.eligible(scope, context, get_store())
    # A class with a store of its own (overriding ``store``) neither reads nor teaches.
    assert not prefetch.eligible(scope, context, NullStore())
