"""Namespaces: mutually exclusive experiments, minimal movement of ranges, independence, and
the holdout's size, measured on 100,000 contexts through the engine's hashing path."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from django_experiments.engine import allocation, namespaces
from django_experiments.engine.context import Context
from django_experiments.engine.decision import Reason, decide
from django_experiments.engine.placement import (
    Partition,
    Population,
    holdout_label,
    namespace_label,
    place,
)
from django_experiments.engine.scope import Scope
from tests.engine.conftest import build_definition

N = 100_000
pytestmark = pytest.mark.django_db(databases=[])


def contexts(n: int = N, prefix: str = "user") -> list[Context]:
    """One scope for them all, as a request's: each context is hashed once per namespace."""
    scope = Scope()
    return [Context("any", {"actor": f"{prefix}:{i}"}, scope) for i in range(n)]


def namespace(
    salt: str, members: Sequence[tuple[str, int]], holdout: int = 0, old: Sequence = ()
) -> tuple[Partition, dict[str, int], list[allocation.Range]]:
    table = namespaces.table_for(old, holdout, members)
    owners = [namespaces.HOLDOUT, *(owner for owner, _ in members)]
    partition = Partition.build(salt, namespace_label(salt), table, owners)
    return partition, {owner: i for i, owner in enumerate(owners)}, table


def populations(partition: Partition, index: dict[str, int]) -> dict[str, Population]:
    return {
        owner: Population(namespace=partition, owner=i)
        for owner, i in index.items()
        if owner != namespaces.HOLDOUT
    }


def owner_of(pops: dict[str, Population], context: Context) -> str | None:
    """Which experiment of the namespace the context is in (None: free space)."""
    for owner, population in pops.items():
        if place(population, context) is None:
            return owner
    return None


def test_two_experiments_at_half_each_never_share_a_context() -> None:
    partition, index, _ = namespace("checkout", [("a", 5_000), ("b", 5_000)])
    pops = populations(partition, index)
    both = in_a = in_b = 0
    for context in contexts():
        a = place(pops["a"], context) is None
        b = place(pops["b"], context) is None
        both += a and b
        in_a += a
        in_b += b
    assert both == 0
    # Everyone is in exactly one of them, half each (± 3σ).
    assert in_a + in_b == N
    sigma = math.sqrt(0.25 / N)
    assert abs(in_a / N - 0.5) < 3 * sigma


def test_changed_ranges_move_the_minimum_share_of_contexts() -> None:
    before = [("a", 3_000), ("b", 3_000), ("c", 2_000)]  # 2,000 free
    after = [("a", 2_000), ("b", 4_000), ("c", 3_000)]  # 1,000 free
    partition, index, old_table = namespace("ranges", before)
    new_partition, _, new_table = namespace("ranges", after, old=old_table)
    # The minimum: every owner (free space included) that shrinks gives up exactly what it
    # loses, and nothing else moves. a gives 1,000 and the free space 1,000.
    minimum = 1_000 + 1_000
    assert allocation.moved_slots(old_table, new_table) == minimum
    # Each experiment keeps min(old, new) of the slots it owned.
    old_owners, new_owners = allocation.expand(old_table), allocation.expand(new_table)
    for (owner, size_before), (_, size_after) in zip(before, after, strict=True):
        kept = sum(1 for o, n in zip(old_owners, new_owners, strict=True) if o == n == owner)
        assert kept == min(size_before, size_after)
    old_pops, new_pops = populations(partition, index), populations(new_partition, index)
    moved = sum(owner_of(old_pops, c) != owner_of(new_pops, c) for c in contexts())
    share = minimum / allocation.SLOTS
    sigma = math.sqrt(share * (1 - share) / N)
    assert abs(moved / N - share) < 3 * sigma


@settings(max_examples=60, deadline=None)
@given(
    old=st.lists(st.integers(0, 3_000), min_size=1, max_size=4),
    new=st.lists(st.integers(0, 3_000), min_size=1, max_size=4),
    holdout=st.tuples(st.integers(0, 1_000), st.integers(0, 1_000)),
)
def test_any_change_of_sizes_moves_exactly_the_total_variation(
    old: list[int], new: list[int], holdout: tuple[int, int]
) -> None:
    """Σ max(0, old − new) over owners (holdout, experiments, free space), and no more."""
    members_old = [(str(i), n) for i, n in enumerate(old)]
    members_new = [(str(i), n) for i, n in enumerate(new)]
    old_table = namespaces.table_for([], holdout[0], members_old)
    new_table = namespaces.table_for(old_table, holdout[1], members_new)
    old_counts = namespaces.counts_for(holdout[0], members_old)
    new_counts = namespaces.counts_for(holdout[1], members_new)
    owners = set(old_counts) | set(new_counts)
    minimum = sum(max(0, old_counts.get(o, 0) - new_counts.get(o, 0)) for o in owners)
    assert allocation.moved_slots(old_table, new_table) == minimum


def test_assignments_in_different_namespaces_are_independent() -> None:
    first, first_index, _ = namespace("page-top", [("a", 5_000), ("b", 5_000)])
    second, second_index, _ = namespace("page-bottom", [("c", 3_000), ("d", 3_000)])
    first_pops, second_pops = populations(first, first_index), populations(second, second_index)
    table = Counter((owner_of(first_pops, c), owner_of(second_pops, c)) for c in contexts())
    rows, cols = ["a", "b"], ["c", "d", None]
    observed = [[table[(r, c)] for c in cols] for r in rows]
    result = stats.chi2_contingency(observed)
    # Independent: no evidence of association (a fixed seed of names, so this is stable).
    assert result.pvalue > 0.001
    # And each margin is what its namespace configured.
    second_shares = [sum(row[j] for row in observed) / N for j in range(3)]
    for share, expected in zip(second_shares, [0.3, 0.3, 0.4], strict=True):
        assert abs(share - expected) < 3 * math.sqrt(expected * (1 - expected) / N)


def test_a_five_percent_holdout_never_sees_a_non_control_variant() -> None:
    holdout = Partition.build(
        "global holdout", holdout_label("h"), [(0, 500, namespaces.HOLDOUT)], [namespaces.HOLDOUT]
    )
    # Three experiments, 50/50, the holdout covering them all.
    definitions = [build_definition({"control": 1, "candidate": 1}, name=n) for n in "xyz"]
    population = Population(holdout=holdout)
    held = 0
    never_treated_in_holdout = 0
    for context in contexts(prefix="visitor"):
        placement = place(population, context)
        served = [
            decide(d, None, True, None, None, None, False, True, None, "candidate", placement)
            for d in definitions
        ]
        if placement is Reason.HOLDOUT:
            held += 1
            never_treated_in_holdout += all(
                s.variant == "control" and s.held_out and s.track and not s.store for s in served
            )
        else:
            assert all(s.variant == "candidate" for s in served)
    assert never_treated_in_holdout == held
    sigma = math.sqrt(0.05 * 0.95 / N)
    assert abs(held / N - 0.05) < 3 * sigma


def test_a_namespace_holdout_is_its_own_range() -> None:
    partition, index, table = namespace("ns", [("a", 4_000), ("b", 4_000)], holdout=1_000)
    assert table[0] == (0, 1_000, namespaces.HOLDOUT)
    pops = populations(partition, index)
    counts = Counter()
    for context in contexts(20_000):
        placements = {place(p, context) for p in pops.values()}
        if Reason.HOLDOUT in placements:
            assert placements == {Reason.HOLDOUT}  # held out of every experiment of it
            counts["held"] += 1
    sigma = math.sqrt(0.1 * 0.9 / 20_000)
    assert abs(counts["held"] / 20_000 - 0.1) < 3 * sigma


def test_over_allocation_is_cut_never_overlapping() -> None:
    members = [("a", 6_000), ("b", 6_000)]
    assert namespaces.over_allocated(0, members)
    counts = namespaces.counts_for(500, members)
    assert counts == {namespaces.HOLDOUT: 500, "a": 6_000, "b": 3_500, namespaces.FREE: 0}


@pytest.mark.parametrize(
    ("percent", "slots"),
    [("12.5", 1_250), ("0.01", 1), ("100", 10_000), ("-3", 0), ("250", 10_000), ("x", 0)],
)
def test_percent_to_slots(percent: str, slots: int) -> None:
    assert namespaces.slots_of(percent) == slots
    assert namespaces.slots_of(None) == 0
