"""Store access: a new visitor reads nothing and writes once; a returning one reads once."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import caches

from django_experiments import experiment
from django_experiments.engine import assignments
from django_experiments.engine.context import key_for
from django_experiments.engine.definitions import get_definition
from django_experiments.engine.scope import Scope, activate, anonymous_identity
from django_experiments.engine.stores import CacheStore, RedisHashStore, get_store
from django_experiments.login import migrate
from django_experiments.middleware import close

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(db: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("ada", password="pw")


def stored_for(name: str, actor: Any) -> str | None:
    definition = get_definition(name)
    assert definition is not None
    return get_store().get(definition.store_name, key_for(name, {"actor": actor}))


def fresh_visit(*names: str) -> tuple[Scope, dict[str, str]]:
    """A first page view: the scope mints the anonymous id, as the middleware's does."""
    scope = Scope(deferring=True)
    with activate(scope):
        variants = {name: experiment(name, actor=None).assigned.name for name in names}
    assert scope.new_anonymous_id is not None
    return scope, variants


def test_new_visitor_reads_nothing_and_writes_once_when_the_scope_closes(
    redis_store: Any, make_experiment: Any, round_trips: list[int]
) -> None:
    for name in ("one", "two", "three"):
        make_experiment(name, control=1, b=1)
    get_store().client.ping()  # connect before counting
    round_trips.clear()

    scope, variants = fresh_visit("one", "two", "three")

    assert round_trips == []  # nothing can be stored for an id minted in this request
    assert len(scope.pending) == 3
    actor = anonymous_identity(scope.new_anonymous_id or "")
    assert stored_for("one", actor) is None  # not yet: when the scope closes
    round_trips.clear()

    assignments.write_pending(scope)  # the middleware's close(), before the response
    assert scope.pending == []
    assert len(round_trips) == 1  # three experiments, one pipeline
    assert {name: stored_for(name, actor) for name in variants} == variants


def test_the_same_request_reads_its_own_new_assignments(
    redis_store: Any, make_experiment: Any, round_trips: list[int]
) -> None:
    make_experiment("cta", control=1, b=1)
    get_store().client.ping()
    round_trips.clear()
    scope, variants = fresh_visit("cta")
    with activate(scope):
        # A second instance that skips the memo (only_assigned) and an explicit read.
        again = experiment("cta", actor=None, only_assigned=True)
        assert again.assigned.name == variants["cta"]
        assert not again.excluded
    assert round_trips == []


def test_a_returning_visitor_reads_and_writes_at_once(
    redis_store: Any, make_experiment: Any
) -> None:
    make_experiment("cta", control=1, b=1)
    scope = Scope(anonymous_id="a" * 32)
    with activate(scope):
        variant = experiment("cta", actor=None).assigned.name
    assert scope.pending == []
    assert stored_for("cta", anonymous_identity("a" * 32)) == variant


def test_other_contexts_are_not_deferred(redis_store: Any, make_experiment: Any) -> None:
    make_experiment("cta", control=1, b=1)
    scope = Scope()
    with activate(scope):
        experiment("cta", actor=None, sticky_to="account:7").assigned  # noqa: B018
        experiment("cta", actor="user-1").assigned  # noqa: B018
    assert scope.pending == []


@pytest.mark.parametrize("rollout", ["random", "round_robin"])
def test_any_rollout_of_a_new_visitor_waits_for_the_close(
    redis_store: Any, make_experiment: Any, round_trips: list[int], settings: Any, rollout: str
) -> None:
    # Nobody else can know an id minted in this scope before its response: even a random
    # draw is safe to write at the end, and it is the variant the response used.
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "DEFAULT_ROLLOUT": rollout}
    make_experiment("cta", control=1, b=1)
    get_store().client.ping()
    round_trips.clear()
    scope, variants = fresh_visit("cta")
    assignments.write_pending(scope)
    assert len(round_trips) <= 2  # round robin's counter, then the one pipeline
    actor = anonymous_identity(scope.new_anonymous_id or "")
    assert stored_for("cta", actor) == variants["cta"]


@pytest.mark.parametrize("backend", ["redis", "cache"])
def test_put_many_never_overwrites(backend: str, redis_store: Any) -> None:
    store = RedisHashStore(alias="redis") if backend == "redis" else CacheStore(alias="default")
    store.set("cta", "k1", "candidate")
    store.put_many([("cta", "k1", "control"), ("cta", "k2", "control"), ("other", "k1", "b")])
    assert store.get("cta", "k1") == "candidate"  # the first writer wins
    assert store.get("cta", "k2") == "control"
    assert store.get("other", "k1") == "b"
    caches["default"].clear()


def test_put_many_uses_one_command_per_hash(redis_store: Any) -> None:
    store = RedisHashStore(alias="redis", buckets=0)
    store.put_many([("cta", f"k{i}", "control") for i in range(50)] + [("x", "k", "b")])
    assert redis_store.hlen("glex:cta") == 50
    assert redis_store.hget("glex:x", "k") == b"b"


def test_login_in_the_first_request_moves_the_deferred_assignment(
    redis_store: Any, make_experiment: Any, user: Any
) -> None:
    make_experiment("cta", control=1, b=1)
    scope, variants = fresh_visit("cta")
    moved = migrate(scope, user)  # written first, then migrated, in the same request
    assert moved == {get_definition("cta").store_name: variants["cta"]}  # type: ignore[union-attr]
    assert stored_for("cta", user) == variants["cta"]
    assert scope.pending == []


def test_a_dead_store_loses_nothing_that_cannot_be_derived_again(
    make_experiment: Any,
    dead_redis: None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_experiment("cta", control=1, b=1)
    scope, variants = fresh_visit("cta")
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        assignments.write_pending(scope)  # never raises
    assert "Writing 1 new assignment(s) to the redis store failed" in caplog.text
    # The visitor's next request, store still down, derives the same deterministic variant.
    returning = Scope(anonymous_id=scope.new_anonymous_id)
    with activate(returning):
        assert experiment("cta", actor=None).assigned.name == variants["cta"]
    # A dead store fails every round: one warning a minute, the rest at debug level.
    again, _ = fresh_visit("cta")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        assignments.write_pending(again)
    assert "new assignment(s)" not in caplog.text


def test_a_scope_bound_by_user_code_writes_at_once(redis_store: Any, make_experiment: Any) -> None:
    make_experiment("cta", control=1, b=1)
    scope = Scope()  # activate() in a script or task: nobody closes it
    with activate(scope):
        variant = experiment("cta", actor=None).assigned.name
    assert scope.pending == []
    assert stored_for("cta", anonymous_identity(scope.new_anonymous_id or "")) == variant


def test_a_resolution_after_the_flush_writes_at_once(
    redis_store: Any, make_experiment: Any
) -> None:
    make_experiment("one", control=1, b=1)
    make_experiment("two", control=1, b=1)
    scope, _ = fresh_visit("one")
    close(scope)  # the middleware, before the response leaves
    with activate(scope):  # a streaming body resolving another experiment
        late = experiment("two", actor=None).assigned.name
    assert scope.pending == []
    assert stored_for("two", anonymous_identity(scope.new_anonymous_id or "")) == late
