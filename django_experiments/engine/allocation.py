"""Weights → slot table, minimal-movement rebalancing, and slot lookup. Pure functions.

An experiment owns ``SLOTS`` slots. Each treatment owns a number of them proportional to its
relative weight (largest-remainder rounding, ties to the earlier treatment). A context is hashed
once into a slot; the slot's owner is its treatment. This is the Sentry review's "one hash, one
number line" rule: later treatments never get "a percent of the leftovers".

When weights change, every treatment keeps ``min(old, new)`` of the slots it already owns and
only the freed slots change hands, so the share of contexts that switch treatment is exactly the
total-variation distance between the old and the new shares, counted in slots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

SLOTS = 10_000

#: ``(start, stop, treatment_name)`` with ``stop`` exclusive, covering ``0..SLOTS`` in order.
Range = tuple[int, int, str]


def slot_counts(weights: Sequence[tuple[str, Decimal | float | int]]) -> dict[str, int]:
    """Share ``SLOTS`` out by weight. All-zero weights give every treatment 0 slots.

    Weights that are negative, NaN, infinite or not numbers count as 0: validation rejects them
    at save, but a row written around ``full_clean()`` must not break every resolution.
    """
    exact = [(name, _as_fraction(w)) for name, w in weights]
    total = sum((w for _, w in exact), Fraction(0))
    if total <= 0:
        return {name: 0 for name, _ in exact}
    quotas = [(name, w * SLOTS / total) for name, w in exact]
    counts = {name: int(q) for name, q in quotas}
    leftover = SLOTS - sum(counts.values())
    # Largest remainder first; among equal remainders the earlier treatment wins (stable sort).
    by_remainder = sorted(
        range(len(quotas)), key=lambda i: quotas[i][1] - int(quotas[i][1]), reverse=True
    )
    for i in by_remainder[:leftover]:
        counts[quotas[i][0]] += 1
    return counts


def _as_fraction(weight: object) -> Fraction:
    try:
        value = Fraction(str(weight))
    except (ValueError, ZeroDivisionError):
        return Fraction(0)
    return value if value > 0 else Fraction(0)


def fresh_table(counts: Mapping[str, int], order: Sequence[str]) -> list[Range]:
    """Lay treatments out as contiguous ranges in ``order``."""
    ranges: list[Range] = []
    start = 0
    for name in order:
        n = counts.get(name, 0)
        if n:
            ranges.append((start, start + n, name))
            start += n
    if start not in (0, SLOTS):
        raise ValueError(f"slot counts add up to {start}, expected {SLOTS}")
    return ranges


def expand(ranges: Iterable[Range]) -> list[str | None]:
    owners: list[str | None] = [None] * SLOTS
    for start, stop, name in ranges:
        owners[start:stop] = [name] * (stop - start)
    return owners


def compress(owners: Sequence[str | None]) -> list[Range]:
    ranges: list[Range] = []
    start = 0
    for i in range(1, len(owners) + 1):
        if i == len(owners) or owners[i] != owners[start]:
            owner = owners[start]
            if owner is not None:
                ranges.append((start, i, owner))
            start = i
    return ranges


def rebalance(old: Iterable[Range], counts: Mapping[str, int], order: Sequence[str]) -> list[Range]:
    """Move from the ``old`` table to one with ``counts``, changing as few slots as possible."""
    if sum(counts.values()) == 0:
        return []
    owners = expand(old)
    if all(owner is None for owner in owners):
        return fresh_table(counts, order)
    kept: dict[str, int] = {}
    free: list[int] = []
    for slot, owner in enumerate(owners):
        if owner is not None and kept.get(owner, 0) < counts.get(owner, 0):
            kept[owner] = kept.get(owner, 0) + 1
        else:
            free.append(slot)
            owners[slot] = None
    it = iter(free)
    for name in order:
        for _ in range(counts.get(name, 0) - kept.get(name, 0)):
            owners[next(it)] = name
    return compress(owners)


def moved_slots(old: Iterable[Range], new: Iterable[Range]) -> int:
    return sum(1 for a, b in zip(expand(old), expand(new), strict=True) if a != b)


def lookup_table(ranges: Iterable[Range], order: Sequence[str]) -> bytes:
    """A ``SLOTS``-byte table of treatment indexes: O(1) lookup, 10 kB per experiment.

    Index 255 marks an unowned slot (every weight 0). Experiments are capped at 255 treatments.
    """
    if len(order) > 255:
        raise ValueError("an experiment may have at most 255 treatments")
    index = {name: i for i, name in enumerate(order)}
    table = bytearray(b"\xff" * SLOTS)
    for start, stop, name in ranges:
        table[start:stop] = bytes([index[name]]) * (stop - start)
    return bytes(table)


def unchanged_slots(current: Sequence[Range], earlier: Iterable[Sequence[Range]]) -> bytes:
    """A ``SLOTS``-byte mask: 1 where every earlier table gave the slot to the same owner as
    ``current`` (an unowned slot is its own owner), 0 where the owner ever differed.

    A context on an unchanged slot was offered the same treatment in every phase, so (with a
    deterministic rollout) what the store holds for it can only be that treatment.
    """
    mask = bytearray(b"\x01" * SLOTS)
    for table in earlier:
        for start, stop in _differences(current, table):
            mask[start:stop] = bytes(stop - start)
    return bytes(mask)


def _differences(a: Sequence[Range], b: Sequence[Range]) -> list[tuple[int, int]]:
    """The ``[start, stop)`` spans whose owner differs between tables ``a`` and ``b``."""
    cuts = sorted({0, SLOTS, *(x for r in (*a, *b) for x in r[:2])})
    out: list[tuple[int, int]] = []
    for start, stop in zip(cuts, cuts[1:], strict=False):
        if _owner(a, start) != _owner(b, start):
            if out and out[-1][1] == start:
                out[-1] = (out[-1][0], stop)
            else:
                out.append((start, stop))
    return out


def _owner(table: Sequence[Range], slot: int) -> str | None:
    # Tables hold a few ranges per treatment: a scan is cheaper than building an index.
    for start, stop, name in table:
        if start <= slot < stop:
            return name
    return None


def keyed_hasher(salt: bytes) -> Any:
    """The keyed hash state of a salt; ``slot_for`` copies it per context."""
    return hashlib.blake2b(key=salt[:64], digest_size=8)


def slot_for(salt: bytes, key: str) -> int:
    """The context's slot: a keyed hash of the context key under the experiment's salt."""
    keyed = _keyed.get(salt)
    if keyed is None:
        if len(_keyed) > 4096:  # salts change on re-randomise only: never grow unbounded
            _keyed.clear()
        keyed = _keyed[salt] = keyed_hasher(salt)
    # Copying a keyed state skips the key block's compression that a new keyed hash pays.
    hasher = keyed.copy()
    hasher.update(key.encode())
    return int.from_bytes(hasher.digest(), "big") % SLOTS


_keyed: dict[bytes, Any] = {}


def validate_ranges(ranges: object) -> list[Range]:
    """Parse a stored table (JSON lists) defensively; raise ValueError if it is not a table."""
    if not isinstance(ranges, list):
        raise ValueError("slot table must be a list")
    out: list[Range] = []
    expected = 0
    for item in ranges:
        if not (isinstance(item, (list, tuple)) and len(item) == 3):
            raise ValueError(f"bad slot range {item!r}")
        start, stop, name = item
        if not (isinstance(start, int) and isinstance(stop, int) and isinstance(name, str)):
            raise ValueError(f"bad slot range {item!r}")
        if start < expected or not start < stop <= SLOTS:
            raise ValueError(f"overlapping or out-of-bounds slot range {item!r}")
        expected = stop
        out.append((start, stop, name))
    return out
