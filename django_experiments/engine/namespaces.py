"""Namespace range tables: shares of a namespace's 10,000 slots, moved as little as possible.

A namespace is a slot table like an experiment's (engine/allocation.py), whose owners are
its experiments, its holdout and the free space instead of treatments. Each owner asks for a
number of slots (its share in hundredths of a percent); the table is rebalanced from the last
recorded one with :func:`allocation.rebalance`, so when sizes change every owner keeps
``min(old, new)`` of its slots and exactly ``Σ max(0, old − new)`` slots change hands.

Pure functions: the database side (populations.py) records the tables and the loader builds
the engine's :class:`~django_experiments.engine.placement.Partition` from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction

from django_experiments.engine import allocation

#: The owner of a namespace's holdout slots. Owners are experiment primary keys as strings
#: (stable across renames); the colon keeps these two apart from any of them.
HOLDOUT = ":holdout"
#: The owner of unallocated slots while rebalancing; never kept in a recorded table.
FREE = ":free"


def slots_of(percent: Decimal | float | int | str | None) -> int:
    """A share in percent (two decimals: one slot is 0.01 %) as a number of slots.

    Junk, negative and NaN values count as 0 and values above 100 % as every slot: validation
    rejects them at save, but a row written around ``full_clean()`` must not break loading.
    """
    if percent is None:
        return 0
    try:
        value = Fraction(str(percent)) * allocation.SLOTS / 100
    except (ValueError, ZeroDivisionError):
        return 0
    return max(0, min(allocation.SLOTS, int(value)))


def counts_for(holdout: int, members: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Slots per owner, holdout first, then members in order, the rest free.

    Requests beyond the namespace's 10,000 slots (saved around validation, or two editors at
    once) are cut: later members get what is left, never a slot another owner holds.
    """
    left = allocation.SLOTS
    counts: dict[str, int] = {}
    for owner, wanted in ((HOLDOUT, holdout), *members):
        granted = max(0, min(wanted, left))
        counts[owner] = counts.get(owner, 0) + granted
        left -= granted
    counts[FREE] = left
    return counts


def over_allocated(holdout: int, members: Sequence[tuple[str, int]]) -> bool:
    return max(0, holdout) + sum(max(0, n) for _, n in members) > allocation.SLOTS


def table_for(
    old: Iterable[allocation.Range], holdout: int, members: Sequence[tuple[str, int]]
) -> list[allocation.Range]:
    """The namespace's table for these sizes, from the ``old`` one with minimal movement.

    Owners of ``old`` that are gone (an experiment left the namespace) free their slots like
    any other shrinking owner. Free slots are left out of the result.
    """
    counts = counts_for(holdout, members)
    order = [HOLDOUT, *(owner for owner, _ in members), FREE]
    ranges = allocation.rebalance(list(old), counts, order)
    return [r for r in ranges if r[2] != FREE]


def owned_by(table: Iterable[allocation.Range], owner: str) -> list[list[int]]:
    """``[[start, stop], ...]`` of one owner: what a phase records as its population."""
    return [[start, stop] for start, stop, name in table if name == owner]
