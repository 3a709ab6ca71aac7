"""The resolution order as a pure function: one row per step of docs/architecture.md."""

from __future__ import annotations

from typing import Any

import pytest

from django_experiments.engine import allocation
from django_experiments.engine.decision import Decision, Reason, decide, needs_stored
from django_experiments.engine.definitions import Definition, TreatmentDef


def definition(status: str = "running", winner: str | None = None) -> Definition:
    treatments = (
        TreatmentDef("control", 1.0, True, None),
        TreatmentDef("b", 1.0, False, None),
        TreatmentDef("c", 1.0, False, None),
    )
    counts = allocation.slot_counts([(t.name, t.weight) for t in treatments])
    return Definition.build(
        name="cta",
        status=status,
        salt="s",
        treatments=treatments,
        control="control",
        winner=winner,
        ranges=tuple(allocation.fresh_table(counts, [t.name for t in treatments])),
        phase=1,
    )


def never() -> Any:
    raise AssertionError("must not be evaluated at this step")


class Rules:
    """The questions decide() asks, answered by plain callables."""

    def __init__(self, excluded: Any, segment: Any, rollout: Any) -> None:
        self.is_excluded, self.segment_variant, self.rollout_variant = excluded, segment, rollout


FACTS: dict[str, Any] = {
    "enabled": True,
    "explicit": None,
    "forced": None,
    "stored": None,
    "only_assigned": False,
    "trackable": True,
    "excluded": lambda: False,
    "segment": lambda: None,
    "rollout": lambda: "b",
}


def call(defn: Definition | None, status: str | None = None, **facts: Any) -> Decision:
    f = {**FACTS, **facts}
    rules = Rules(f.pop("excluded"), f.pop("segment"), f.pop("rollout"))
    return decide(defn, status, rules=rules, **f)


CASES = [
    # (definition kwargs, facts, variant, reason, store, track)
    ({"status": "concluded", "winner": "c"}, {"rollout": never}, "c", Reason.CONCLUDED, 0, 0),
    ({"status": "concluded"}, {}, "control", Reason.CONCLUDED, 0, 0),
    ({"status": "draft"}, {"explicit": "b", "rollout": never}, "control", Reason.NOT_RUNNING, 0, 0),
    ({"status": "paused"}, {"stored": "c"}, "c", Reason.PAUSED, 0, 0),
    ({"status": "paused"}, {}, "control", Reason.PAUSED, 0, 0),
    ({}, {"enabled": False, "forced": "c"}, "control", Reason.DISABLED, 0, 0),
    ({}, {"explicit": "c", "forced": "b", "stored": "b"}, "c", Reason.EXPLICIT, 1, 1),
    ({}, {"forced": "c", "stored": "b", "excluded": never}, "c", Reason.FORCED, 1, 1),
    ({}, {"stored": "c", "only_assigned": True, "excluded": never}, "c", Reason.STORED, 0, 1),
    ({}, {"only_assigned": True, "excluded": never}, "control", Reason.ONLY_ASSIGNED, 0, 0),
    ({}, {"excluded": lambda: True, "rollout": never}, "control", Reason.EXCLUDED, 0, 0),
    ({}, {"segment": lambda: "c", "rollout": never}, "c", Reason.SEGMENT, 1, 1),
    ({}, {"segment": lambda: "ghost"}, "b", Reason.ROLLOUT, 1, 1),
    ({}, {}, "b", Reason.ROLLOUT, 1, 1),
    ({}, {"rollout": lambda: None}, "control", Reason.ROLLOUT, 1, 1),
    ({}, {"rollout": lambda: "ghost"}, "control", Reason.ROLLOUT, 1, 1),
    ({}, {"trackable": False}, "b", Reason.ROLLOUT, 1, 0),  # Do-Not-Track: assigned, untracked
    ({}, {"trackable": False, "forced": "c"}, "c", Reason.FORCED, 1, 0),
]


@pytest.mark.parametrize(("defn", "facts", "variant", "reason", "store", "track"), CASES)
def test_each_step_of_the_resolution_order(
    defn: dict[str, Any],
    facts: dict[str, Any],
    variant: str,
    reason: Reason,
    store: int,
    track: int,
) -> None:
    decision = call(definition(**defn), **facts)
    assert decision == Decision(variant, reason, bool(store), bool(track))


def test_no_definition_is_control_untracked() -> None:
    assert call(None) == Decision("control", Reason.MISSING, False, False)


def test_status_override_for_stubs() -> None:
    assert call(definition("draft"), "running").reason is Reason.ROLLOUT
    assert call(definition(), "draft").reason is Reason.NOT_RUNNING


@pytest.mark.parametrize(
    ("status", "enabled", "explicit", "forced", "expected"),
    [
        ("running", True, None, None, True),
        ("running", False, None, None, False),
        ("running", True, "b", None, False),
        ("running", True, None, "b", False),
        ("paused", False, None, None, True),
        ("draft", False, None, None, False),
        ("concluded", False, None, None, False),
    ],
)
def test_the_store_is_read_only_where_the_order_looks_at_it(
    status: str, enabled: bool, explicit: str | None, forced: str | None, expected: bool
) -> None:
    got = needs_stored(definition(status), status, enabled, explicit, forced)
    assert got is expected


def test_flags() -> None:
    forced = Decision("b", Reason.FORCED, True, True)
    assert forced.overwrite and forced.hand_picked and not forced.excluded
    assert Decision("control", Reason.ONLY_ASSIGNED, False, False).excluded
    assert not Decision("b", Reason.ROLLOUT, True, True).hand_picked


# --- holdouts and namespaces (steps 3a and 3b) --------------------------------------------


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        (Reason.HOLDOUT, ("control", Reason.HOLDOUT, False, True)),
        (Reason.NAMESPACE, ("control", Reason.NAMESPACE, False, False)),
    ],
)
def test_placement_comes_after_forced_and_before_the_stored_variant(
    placement: Reason, expected: tuple[Any, ...]
) -> None:
    decision = call(
        definition(), stored="c", excluded=never, segment=never, rollout=never, placement=placement
    )
    assert tuple(decision) == expected
    assert decision.held_out is (placement is Reason.HOLDOUT)
    assert decision.excluded is (placement is Reason.NAMESPACE)
    assert not needs_stored(definition(), "running", True, None, None, placement)
    # Hand-picked variants still win (QA), and are flagged as such, not as held out.
    forced = call(definition(), forced="b", placement=placement)
    assert (forced.variant, forced.reason, forced.held_out) == ("b", Reason.FORCED, False)
    explicit = call(definition(), explicit="c", placement=placement)
    assert (explicit.variant, explicit.reason) == ("c", Reason.EXPLICIT)


def test_a_held_out_context_is_not_tracked_when_the_visitor_asked_not_to_be() -> None:
    decision = call(definition(), trackable=False, placement=Reason.HOLDOUT)
    assert tuple(decision) == ("control", Reason.HOLDOUT, False, False)


def test_placement_under_every_status() -> None:
    holdout, namespace = Reason.HOLDOUT, Reason.NAMESPACE
    concluded = definition("concluded", winner="b")
    # Concluded: the holdout keeps control (it measures what shipped); the rest the winner.
    assert tuple(call(concluded, placement=holdout)) == ("control", holdout, False, False)
    assert call(concluded, placement=namespace).variant == "b"
    # Paused: no stored variant for contexts outside the population.
    paused = definition("paused")
    assert tuple(call(paused, stored="b", placement=namespace)) == (
        "control",
        namespace,
        False,
        False,
    )
    assert tuple(call(paused, stored="b", placement=holdout)) == ("control", holdout, False, False)
    assert not needs_stored(paused, "paused", False, None, None, holdout)
    # Draft and disabled: control, as for everyone.
    assert call(definition("draft"), placement=holdout).reason is Reason.NOT_RUNNING
    assert call(definition(), enabled=False, placement=holdout).reason is Reason.DISABLED
