"""Holdouts and namespaces through ``experiment()``: definitions from the database, the
resolution order (forced wins, then holdout, then namespace, then the stored variant), what
is stored and tracked, and one hash per namespace per context in a scope."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from django_experiments import experiment
from django_experiments.engine import context as context_module
from django_experiments.engine.decision import Reason
from django_experiments.engine.definitions import get_definition
from django_experiments.engine.scope import Scope, activate
from django_experiments.engine.stores import get_store
from django_experiments.models import Experiment, GlobalHoldout, Namespace
from django_experiments.testing import EventCapture

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(make_experiment: Any) -> Namespace:
    """Namespace ``page`` with a and b at 50 % each; c is in no namespace."""
    namespace = Namespace.objects.create(name="page")
    for name in ("a", "b"):
        exp = make_experiment(name, control=1, candidate=1)
        exp.namespace, exp.namespace_share = namespace, Decimal(50)
        exp.save()
    make_experiment("c", control=1, candidate=1)
    return namespace


def reasons(actor: str, *names: str) -> dict[str, Reason]:
    return {name: experiment(name, actor=actor).decision.reason for name in names}


def test_a_context_is_in_exactly_one_experiment_of_the_namespace(page: Namespace) -> None:
    for i in range(300):
        got = reasons(f"u{i}", "a", "b", "c")
        inside = [n for n in ("a", "b") if got[n] is not Reason.NAMESPACE]
        assert len(inside) == 1
        assert got["c"] is Reason.ROLLOUT  # outside namespaces nothing changes


def test_outside_its_range_a_context_gets_control_untracked_and_unstored(page: Namespace) -> None:
    actor = next(f"u{i}" for i in range(100) if reasons(f"u{i}", "a")["a"] is Reason.NAMESPACE)
    with EventCapture() as events:
        exp = experiment("a", actor=actor)
        assert exp.assigned.name == "control"
        assert exp.excluded and not exp.should_track
        assert exp.signature["excluded"] is True
    assert events.events == []
    definition = get_definition("a")
    assert definition is not None
    assert get_store().get(definition.store_name, exp.context.key) is None


def test_a_range_change_moves_out_contexts_with_a_stored_variant(page: Namespace) -> None:
    """Exclusivity beats stickiness: a stored variant does not keep a context in an
    experiment whose range no longer holds it (it would then be in two)."""
    inside = [f"u{i}" for i in range(200) if reasons(f"u{i}", "a")["a"] is Reason.ROLLOUT]
    for actor in inside:
        experiment("a", actor=actor).assigned  # noqa: B018 - stored now
    a = Experiment.objects.get(name="a")
    a.namespace_share = Decimal(25)
    a.save()
    b = Experiment.objects.get(name="b")
    b.namespace_share = Decimal(75)
    b.save()
    moved = [actor for actor in inside if reasons(actor, "a")["a"] is Reason.NAMESPACE]
    # a keeps the first half of its range: about half its contexts leave, all to b.
    assert 0.3 < len(moved) / len(inside) < 0.7
    for actor in moved:
        assert experiment("a", actor=actor).assigned.name == "control"
        assert reasons(actor, "b")["b"] is not Reason.NAMESPACE
    stayed = [actor for actor in inside if actor not in moved]
    for actor in stayed:
        assert reasons(actor, "a")["a"] is Reason.STORED


def test_forced_and_explicit_variants_win_over_namespace_and_holdout(
    page: Namespace, settings: Any
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "ALLOW_FORCED_ASSIGNMENT": True}
    GlobalHoldout.objects.create(percent=Decimal(100))
    with activate(Scope(forced={"a": "candidate"})):
        forced = experiment("a", actor="u1")
        assert (forced.assigned.name, forced.decision.reason) == ("candidate", Reason.FORCED)
    explicit = experiment("b", "candidate", actor="u1")
    assert (explicit.assigned.name, explicit.decision.reason) == ("candidate", Reason.EXPLICIT)
    plain = experiment("c", actor="u1")
    assert (plain.assigned.name, plain.decision.reason) == ("control", Reason.HOLDOUT)


def test_holdout_contexts_get_control_everywhere_tracked_and_flagged(page: Namespace) -> None:
    GlobalHoldout.objects.create(percent=Decimal(20))
    held = [f"u{i}" for i in range(200) if reasons(f"u{i}", "c")["c"] is Reason.HOLDOUT]
    assert 20 < len(held) < 65
    with activate(Scope(deferring=True)) as scope:
        for actor in held:
            for name in ("a", "b", "c"):
                exp = experiment(name, actor=actor)
                assert exp.assigned.name == "control"
                assert exp.decision.reason is Reason.HOLDOUT and not exp.excluded
    # One exposure per context and experiment, every one flagged, none stored.
    assert len(scope.events) == 3 * len(held)
    assert all(e["holdout"] is True and e["variant"] == "control" for e in scope.events)
    for name in ("a", "b", "c"):
        definition = get_definition(name)
        assert definition is not None
        assert (
            get_store().get(definition.store_name, experiment(name, actor=held[0]).context.key)
            is None
        )


def test_a_namespace_holdout_covers_only_its_experiments(page: Namespace) -> None:
    for exp in Experiment.objects.filter(namespace=page):
        exp.namespace_share = Decimal(45)
        exp.save()
    page.holdout_percent = Decimal(10)
    page.save()
    seen = {"held": 0}
    for i in range(400):
        got = reasons(f"u{i}", "a", "b", "c")
        if got["a"] is Reason.HOLDOUT:
            seen["held"] += 1
            assert got["b"] is Reason.HOLDOUT and got["c"] is Reason.ROLLOUT
    assert 15 < seen["held"] < 70


def test_paused_and_concluded_experiments_keep_the_holdout(page: Namespace) -> None:
    GlobalHoldout.objects.create(percent=Decimal(100))
    c = Experiment.objects.get(name="c")
    c.status = "concluded"
    c.winner = c.treatments.get(name="candidate")
    c.save()
    exp = experiment("c", actor="u1")
    # The holdout keeps measuring what shipped: control, and nothing is tracked.
    assert (exp.assigned.name, exp.decision.reason, exp.should_track) == (
        "control",
        Reason.HOLDOUT,
        False,
    )
    c.status, c.winner = "paused", None
    c.save()
    assert experiment("c", actor="u1").decision.reason is Reason.HOLDOUT


def test_one_hash_per_namespace_per_context_in_a_scope(
    page: Namespace, make_experiment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Namespace.objects.create(name="footer")
    for name in ("d", "e"):
        exp = make_experiment(name, control=1, candidate=1)
        exp.namespace, exp.namespace_share = other, Decimal(50)
        exp.save()
    GlobalHoldout.objects.create(percent=Decimal(5))
    for name in "abcde":
        assert get_definition(name) is not None  # warm
    # An actor outside the holdout (its salt is random): a held-out context never reaches
    # the namespaces' hashes.
    actor = next(
        f"u{i}"
        for i in range(1, 1000)
        if experiment("a", actor=f"u{i}").decision.reason is not Reason.HOLDOUT
    )
    calls: list[str] = []
    original = context_module.partition_slot

    def counting(label: str, material: str) -> int:
        calls.append(label)
        return original(label, material)

    monkeypatch.setattr("django_experiments.engine.placement.partition_slot", counting)
    with activate(Scope()):
        for _ in range(3):  # the same page rendered three times in one request
            for name in "abcde":
                experiment(name, actor=actor).assigned  # noqa: B018
    # The global holdout, namespace page and namespace footer: once each.
    assert sorted(calls) == sorted(
        ["holdout/" + GlobalHoldout.objects.get().salt, "namespace/page", "namespace/footer"]
    )


def test_a_corrupt_recorded_table_is_laid_out_afresh(page: Namespace, caplog: Any) -> None:
    Namespace.objects.filter(pk=page.pk).update(allocation="not a table")
    test_a_context_is_in_exactly_one_experiment_of_the_namespace(page)
    assert "corrupt allocation" in caplog.text


def test_namespaces_that_cannot_be_loaded_close_their_experiments(
    page: Namespace, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """Rather than let namespaced experiments overlap, nobody is in them until it is fixed;
    experiments outside namespaces are untouched."""

    def broken(*args: Any) -> Any:
        raise RuntimeError("unreadable namespace row")

    monkeypatch.setattr("django_experiments.loader.partitions", broken)
    for i in range(50):
        got = reasons(f"u{i}", "a", "b", "c")
        assert got == {"a": Reason.NAMESPACE, "b": Reason.NAMESPACE, "c": Reason.ROLLOUT}
    assert "Namespaces or the global holdout are unusable" in caplog.text
