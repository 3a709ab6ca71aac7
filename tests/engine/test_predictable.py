"""Predictable claims: a returning visitor reads nothing where the store can only hold the
slot table's variant (engine/assignments.py), and still sticks everywhere else."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from django_experiments import experiment, prefetch, services
from django_experiments.engine import allocation, assignments
from django_experiments.engine.context import key_for
from django_experiments.engine.definitions import get_definition
from django_experiments.engine.scope import Scope, activate, anonymous_identity
from django_experiments.engine.stores import get_store
from django_experiments.models import Experiment

pytestmark = pytest.mark.django_db(transaction=True)

VISITORS = [f"{i:032x}" for i in range(1, 201)]


@pytest.fixture
def cta(make_experiment: Any, committed: Any) -> Experiment:
    with committed():
        exp: Experiment = make_experiment("cta", control=50, candidate=50)
    return exp


def set_weights(exp: Experiment, committed: Any, **weights: Any) -> None:
    with committed():
        for treatment in exp.treatments.all():
            treatment.weight = Decimal(str(weights[treatment.name]))
            treatment.save()


def request(visitor: str | None, *names: str, fetch: bool = False, **explicit: str) -> Scope:
    """One request of ``visitor`` (None: a new one) as the middleware runs it: deferred
    writes, written when the scope closes."""
    scope = Scope(anonymous_id=visitor, deferring=True)
    with activate(scope):
        if fetch:
            prefetch(names, actor=None)
        for name in names:
            experiment(name, explicit.get(name), actor=None).assigned  # noqa: B018
    scope.deferring = False
    assignments.write_pending(scope)
    return scope


def variant_of(scope: Scope, name: str) -> str:
    [(_, value)] = [(f, v) for f, v in scope.known.items() if f[0] == name]
    assert value is not None
    return value


def stored(name: str, visitor: str) -> str | None:
    return get_store().get(name, key_for(name, {"actor": anonymous_identity(visitor)}))


def test_unchanged_slots_marks_only_the_slots_that_changed_owner() -> None:
    first = [(0, 5000, "control"), (5000, 10000, "candidate")]
    second = allocation.rebalance(first, {"control": 2000, "candidate": 8000}, ["control", "b"])
    mask = allocation.unchanged_slots(second, [first, second])
    assert mask.count(0) == allocation.moved_slots(first, second) == 3000
    assert allocation.unchanged_slots(first, [first]) == b"\x01" * allocation.SLOTS
    # An unowned slot (every weight 0) is its own owner.
    assert allocation.unchanged_slots([], [first]).count(1) == 0


def test_a_returning_visitor_makes_no_read_and_one_write(
    redis_store: Any, cta: Experiment, round_trips: list[int]
) -> None:
    first = request(None, "cta")
    get_store().client.ping()
    round_trips.clear()
    again = request(VISITORS[0], "cta")
    # The claim waits for the scope's end: one set-if-absent, no read.
    assert len(round_trips) == 1
    assert variant_of(again, "cta") in ("control", "candidate")
    assert first.new_anonymous_id is not None
    # A visitor's first sight of an experiment is stored by that write.
    assert stored("cta", VISITORS[0]) == variant_of(again, "cta")


def test_prefetch_skips_what_needs_no_read(
    redis_store: Any, cta: Experiment, make_experiment: Any, round_trips: list[int]
) -> None:
    make_experiment("other", control=1, b=1)  # no committed phase: nothing is predicted
    request(VISITORS[1], "cta", "other")
    get_store().client.ping()
    round_trips.clear()
    scope = Scope(anonymous_id=VISITORS[1], deferring=True)
    with activate(scope):
        assert prefetch(["cta", "other"], actor=None) == 1


def test_stickiness_survives_a_weight_change(
    redis_store: Any, cta: Experiment, committed: Any, round_trips: list[int]
) -> None:
    before = {v: variant_of(request(v, "cta"), "cta") for v in VISITORS}
    set_weights(cta, committed, control=20, candidate=80)
    definition = get_definition("cta")
    assert definition is not None and definition.phase == 2
    moved = {
        v
        for v in VISITORS
        if definition.unchanged[
            definition.slot_for_key(key_for("cta", {"actor": anonymous_identity(v)}))
        ]
        == 0
    }
    assert 0 < len(moved) < len(VISITORS)
    get_store().client.ping()
    round_trips.clear()
    after = {v: variant_of(request(v, "cta"), "cta") for v in VISITORS}
    assert after == before  # every context keeps what it was given in phase 1
    # Only contexts on slots that changed owner read (one claim each); the others' claims
    # are one pipelined set-if-absent each at the end of their request.
    assert len(round_trips) == len(VISITORS)
    # A newcomer on a moved slot gets the new table's owner.
    assert definition.unchanged.count(0) == 3000


def test_a_hand_picked_variant_sticks_and_marks_the_visitor(
    redis_store: Any, cta: Experiment, round_trips: list[int]
) -> None:
    visitor = VISITORS[2]
    natural = variant_of(request(visitor, "cta"), "cta")
    other = "candidate" if natural == "control" else "control"
    picked = request(visitor, "cta", cta=other)
    assert picked.hand_picked and picked.hand_picked_now
    assert stored("cta", visitor) == other
    # The next request carries the flag (the cookie): it reads and keeps the hand-picked one.
    scope = Scope(anonymous_id=visitor, deferring=True, hand_picked=True)
    with activate(scope):
        assert experiment("cta", actor=None).assigned.name == other
    # Without the flag the claim would be predicted (and wrong): the flag is what keeps it.
    with activate(Scope(anonymous_id=visitor, deferring=True)):
        assert experiment("cta", actor=None).assigned.name == natural


def test_a_new_visitors_hand_picked_variant_marks_the_new_cookie(
    redis_store: Any, cta: Experiment
) -> None:
    scope = request(None, "cta", cta="candidate")
    assert scope.new_anonymous_id is not None and scope.hand_picked


def test_a_rerandomised_experiment_predicts_nothing(
    redis_store: Any, cta: Experiment, committed: Any, round_trips: list[int]
) -> None:
    with committed():
        services.rerandomise(cta, forget_assignments=False)
    definition = get_definition("cta")
    assert definition is not None and definition.unchanged == b""
    request(VISITORS[3], "cta")
    get_store().client.ping()
    round_trips.clear()
    request(VISITORS[3], "cta")
    assert len(round_trips) == 1  # the claim (read and set-if-absent in one script)


def test_a_random_rollout_is_never_predicted(
    redis_store: Any, cta: Experiment, round_trips: list[int]
) -> None:
    from django_experiments.engine.experiment import Experiment as Base

    class Drawn(Base):
        name = "cta"
        rollout = "random"

    scope = Scope(anonymous_id=VISITORS[4], deferring=True)
    get_store().client.ping()
    round_trips.clear()
    with activate(scope):
        first = Drawn(actor=None, scope=scope).assigned.name
    # Read, then claim what was drawn: nothing is queued for the end of the request.
    assert len(round_trips) == 2 and not scope.pending
    assert stored("cta", VISITORS[4]) == first


def test_a_logged_in_user_is_never_predicted(
    redis_store: Any, cta: Experiment, round_trips: list[int]
) -> None:
    scope = Scope(anonymous_id=VISITORS[5], deferring=True)
    get_store().client.ping()
    round_trips.clear()
    with activate(scope):
        experiment("cta", actor="user-7").assigned  # noqa: B018
    # A login may have carried an anonymous variant to the user's key: always asked.
    assert len(round_trips) == 1 and not scope.pending
