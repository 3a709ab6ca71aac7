"""Slot tables: uniformity, independence, minimal movement, defensive parsing.

Statistical tests use the real key derivation (``key_for``) and slot lookup
(``Definition.treatment_for_key``); keys are derived once per module to stay fast.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, chisquare

from django_experiments.engine import allocation
from django_experiments.engine.context import key_for
from django_experiments.engine.definitions import Definition

from .conftest import build_definition

UNIFORMITY_N = 200_000
MOVEMENT_N = 100_000
P_MIN = 0.001


def _assign(definition: Definition, keys: list[str]) -> list[str | None]:
    out: list[str | None] = []
    for key in keys:
        treatment = definition.treatment_for_key(key)
        out.append(treatment.name if treatment is not None else None)
    return out


@pytest.fixture(scope="module")
def actor_ids() -> range:
    return range(UNIFORMITY_N)


@pytest.fixture(scope="module")
def three_way(actor_ids: range) -> list[str | None]:
    definition = build_definition({"a": 1, "b": 1, "c": 1}, name="three", salt="salt-three")
    return _assign(definition, [key_for("three", {"actor": i}) for i in actor_ids])


@pytest.fixture(scope="module")
def ninety_ten(actor_ids: range) -> list[str | None]:
    definition = build_definition({"big": 90, "small": 10}, name="ninety", salt="salt-ninety")
    return _assign(definition, [key_for("ninety", {"actor": i}) for i in actor_ids])


@pytest.fixture(scope="module")
def movement_keys() -> list[str]:
    return [key_for("move", {"actor": i}) for i in range(MOVEMENT_N)]


# --- uniformity and independence ----------------------------------------------------------


def test_uniform_three_way(three_way: list[str | None]) -> None:
    counts = Counter(three_way)
    observed = [counts["a"], counts["b"], counts["c"]]
    assert sum(observed) == UNIFORMITY_N
    expected = [UNIFORMITY_N / 3] * 3
    assert chisquare(observed, expected).pvalue > P_MIN


def test_uniform_ninety_ten(ninety_ten: list[str | None]) -> None:
    counts = Counter(ninety_ten)
    observed = [counts["big"], counts["small"]]
    assert sum(observed) == UNIFORMITY_N
    # The expected shares are the slot table's (exactly 9000/1000 slots here).
    expected = [UNIFORMITY_N * 0.9, UNIFORMITY_N * 0.1]
    assert chisquare(observed, expected).pvalue > P_MIN


def test_two_experiments_are_independent(
    three_way: list[str | None], ninety_ten: list[str | None]
) -> None:
    joint = Counter(zip(three_way, ninety_ten, strict=True))
    table = [[joint[(a, b)] for b in ("big", "small")] for a in ("a", "b", "c")]
    assert chi2_contingency(table).pvalue > P_MIN


def test_independence_test_has_teeth(three_way: list[str | None], actor_ids: range) -> None:
    """The same name and salt in two tables is fully dependent: the χ² test must see it."""
    same = build_definition({"x": 1, "y": 1}, name="three", salt="salt-three")
    other = _assign(same, [key_for("three", {"actor": i}) for i in actor_ids[:20_000]])
    joint = Counter(zip(three_way[:20_000], other, strict=True))
    table = [[joint[(a, b)] for b in ("x", "y")] for a in ("a", "b", "c")]
    assert chi2_contingency(table).pvalue < 1e-6


# --- minimal movement ---------------------------------------------------------------------


def _shares(weights: dict[str, float]) -> dict[str, Fraction]:
    total = sum(Fraction(str(w)) for w in weights.values())
    return {n: Fraction(str(w)) / total for n, w in weights.items()}


def _tv(old: dict[str, float], new: dict[str, float]) -> float:
    a, b = _shares(old), _shares(new)
    return float(sum(abs(a.get(n, 0) - b.get(n, 0)) for n in {*a, *b}) / 2)


MOVES = [
    pytest.param({"a": 50, "b": 50}, {"a": 20, "b": 80}, id="50/50->20/80"),
    pytest.param({"a": 1, "b": 1, "c": 1}, {"a": 20, "b": 40, "c": 40}, id="thirds->20/40/40"),
    pytest.param({"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 1, "c": 1, "d": 1}, id="add-4th"),
    pytest.param({"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 1, "c": 0}, id="zero-one"),
    pytest.param({"a": 90, "b": 10}, {"b": 10, "a": 90}, id="reorder-moves-nothing"),
]


@pytest.mark.parametrize(("old", "new"), MOVES)
def test_switch_share_is_total_variation(
    old: dict[str, float], new: dict[str, float], movement_keys: list[str]
) -> None:
    before = build_definition(old, name="move", salt="m")
    order = list(new)
    counts = allocation.slot_counts(list(new.items()))
    ranges = allocation.rebalance(before.ranges, counts, order)
    after = build_definition(new, name="move", salt="m", ranges=ranges)

    switched = sum(
        a != b
        for a, b in zip(_assign(before, movement_keys), _assign(after, movement_keys), strict=True)
    )
    tv = _tv(old, new)
    assert abs(switched / MOVEMENT_N - tv) <= 0.005
    # Exact in slots: only the slots a treatment gains change hands.
    old_counts = allocation.slot_counts(list(old.items()))
    gained = sum(max(0, counts[n] - old_counts.get(n, 0)) for n in counts)
    assert allocation.moved_slots(before.ranges, ranges) == gained
    assert after.effective_shares() == {n: c / allocation.SLOTS for n, c in counts.items()}


@pytest.mark.parametrize("weights", [{"a": 1, "b": 1, "c": 1}, {"a": 90, "b": 10}])
def test_resalting_moves_one_minus_sum_of_squares(
    weights: dict[str, float], movement_keys: list[str]
) -> None:
    before = build_definition(weights, name="move", salt="old-salt")
    after = build_definition(weights, name="move", salt="new-salt")
    switched = sum(
        a != b
        for a, b in zip(_assign(before, movement_keys), _assign(after, movement_keys), strict=True)
    )
    expected = 1 - float(sum(s * s for s in _shares(weights).values()))
    assert abs(switched / MOVEMENT_N - expected) <= 0.005


weight_lists = st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(old=weight_lists, new=weight_lists)
def test_rebalance_is_minimal_for_any_weights(old: list[int], new: list[int]) -> None:
    old_w = [(f"t{i}", w) for i, w in enumerate(old)]
    new_w = [(f"t{i}", w) for i, w in enumerate(new)]
    old_table = allocation.fresh_table(allocation.slot_counts(old_w), [n for n, _ in old_w])
    counts = allocation.slot_counts(new_w)
    table = allocation.rebalance(old_table, counts, [n for n, _ in new_w])
    owners = Counter(allocation.expand(table))
    owners.pop(None, None)
    assert dict(owners) == {n: c for n, c in counts.items() if c}
    if not old_table or not table:
        return
    old_counts = allocation.slot_counts(old_w)
    gained = sum(max(0, counts[n] - old_counts.get(n, 0)) for n in counts)
    assert allocation.moved_slots(old_table, table) == gained


# --- slot counts and tables ---------------------------------------------------------------


def test_slot_counts_largest_remainder_ties_to_earlier() -> None:
    assert allocation.slot_counts([("a", 1), ("b", 1), ("c", 1)]) == {
        "a": 3334,
        "b": 3333,
        "c": 3333,
    }
    assert allocation.slot_counts([("a", 1), ("b", 2)]) == {"a": 3333, "b": 6667}
    assert allocation.slot_counts([("a", Decimal("0.5")), ("b", 1.5)]) == {"a": 2500, "b": 7500}


def test_slot_counts_all_zero_gives_nothing() -> None:
    counts = allocation.slot_counts([("a", 0), ("b", 0)])
    assert counts == {"a": 0, "b": 0}
    assert allocation.fresh_table(counts, ["a", "b"]) == []
    assert allocation.rebalance([(0, allocation.SLOTS, "a")], counts, ["a", "b"]) == []


@pytest.mark.parametrize(
    "bad", [Decimal("-1"), -5, float("nan"), Decimal("NaN"), float("inf"), "abc", None]
)
def test_unusable_weights_count_as_zero(bad: object) -> None:
    """A row saved around validation must not break the whole snapshot."""
    counts = allocation.slot_counts([("a", 1), ("b", bad)])  # type: ignore[list-item]
    assert counts == {"a": allocation.SLOTS, "b": 0}
    assert allocation.fresh_table(counts, ["a", "b"]) == [(0, allocation.SLOTS, "a")]


def test_rebalance_from_empty_table_lays_out_afresh() -> None:
    counts = allocation.slot_counts([("a", 1), ("b", 1)])
    assert allocation.rebalance([], counts, ["a", "b"]) == [(0, 5000, "a"), (5000, 10000, "b")]


def test_expand_compress_round_trip() -> None:
    table = [(0, 10, "a"), (10, 9000, "b"), (9000, 10000, "a")]
    assert allocation.compress(allocation.expand(table)) == table


def test_lookup_table_marks_unowned_slots() -> None:
    table = allocation.lookup_table([(0, 5000, "b")], ["a", "b"])
    assert len(table) == allocation.SLOTS
    assert table[0] == 1 and table[4999] == 1 and table[5000] == 255


def test_lookup_table_caps_treatments() -> None:
    with pytest.raises(ValueError, match="at most 255"):
        allocation.lookup_table([], [f"t{i}" for i in range(256)])


def test_slot_for_depends_on_salt_and_key() -> None:
    assert allocation.slot_for(b"s", "k") == allocation.slot_for(b"s", "k")
    assert 0 <= allocation.slot_for(b"s", "k") < allocation.SLOTS
    slots = {allocation.slot_for(b"s", f"k{i}") for i in range(50)}
    assert len(slots) > 40
    assert [allocation.slot_for(b"s", f"k{i}") for i in range(20)] != [
        allocation.slot_for(b"t", f"k{i}") for i in range(20)
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "not a list",
        [[0, 10]],
        [["0", 10, "a"]],
        [[0, 10, 5]],
        [[0, 10, "a"], [5, 20, "b"]],
        [[10, 5, "a"]],
        [[0, allocation.SLOTS + 1, "a"]],
        [None],
    ],
)
def test_validate_ranges_rejects_corrupt_tables(bad: object) -> None:
    with pytest.raises(ValueError):
        allocation.validate_ranges(bad)


def test_validate_ranges_accepts_stored_json() -> None:
    assert allocation.validate_ranges([[0, 5000, "a"], [5000, 10000, "b"]]) == [
        (0, 5000, "a"),
        (5000, 10000, "b"),
    ]


def test_slot_for_is_the_keyed_blake2b_of_the_key() -> None:
    # The cached keyed state must give exactly the one-shot keyed hash: slots (and so
    # deterministic assignments) may not change with the optimisation.
    import hashlib

    for salt in (b"s", b"x" * 80, b""):
        for key in ("k", "0123abcd" * 4):
            digest = hashlib.blake2b(key.encode(), key=salt[:64], digest_size=8).digest()
            expected = int.from_bytes(digest, "big") % allocation.SLOTS
            assert allocation.slot_for(salt, key) == expected
            assert allocation.slot_for(salt, key) == expected  # cached state reused
