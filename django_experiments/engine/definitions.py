"""Experiment definitions as plain data, with an in-process snapshot that cannot stay stale.

Resolution reads a frozen snapshot: zero queries while it is fresh. Each process reloads it
from the source of truth (the database, through the ``load_definitions`` hook the app wires)
at most once per ``DEFINITIONS_TTL`` seconds, and the saving process drops it at once (model
signals call :func:`invalidate`). Freshness is derived from the database itself, not from a
version token in a shared cache: a change made by any path (the admin, ``save()``,
``QuerySet.update()``, raw SQL, another process) is served everywhere within the TTL, and no
process can write back a stale version for the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from django_experiments.conf import settings
from django_experiments.engine import allocation
from django_experiments.engine.hooks import hooks
from django_experiments.engine.stores import report_failure

if TYPE_CHECKING:
    from django_experiments.engine.placement import Population


class Variant(NamedTuple):
    """The runtime view of a treatment: its name and JSON payload."""

    name: str
    payload: Any = None

    def __str__(self) -> str:
        # ``{{ exp.assigned }}`` in a template renders the variant name.
        return self.name


@dataclass(frozen=True, slots=True)
class TreatmentDef:
    name: str
    weight: float
    is_control: bool
    payload: Any


@dataclass(frozen=True)
class Definition:
    name: str
    status: str
    salt: str
    treatments: tuple[TreatmentDef, ...]
    control: str
    winner: str | None
    ranges: tuple[allocation.Range, ...]
    phase: int
    client_visible: bool = False
    store_generation: int = 0
    #: Holdout and namespace (engine/placement.py); None: every context is in the experiment.
    population: Population | None = field(default=None, compare=False)
    # Derived once per snapshot so that resolution is a hash and an index.
    table: bytes = field(default=b"", compare=False, repr=False)
    salt_bytes: bytes = field(default=b"", compare=False, repr=False)
    by_name: Mapping[str, TreatmentDef] = field(default_factory=dict, compare=False, repr=False)
    variants: Mapping[str, Variant] = field(default_factory=dict, compare=False, repr=False)
    #: The salt's keyed hash state (allocation.keyed_hasher), copied per context.
    hasher: Any = field(default=None, compare=False, repr=False)
    #: ``allocation.unchanged_slots`` over every phase with this salt (b"": unknown). On a
    #: slot marked 1 the store can only hold the table's owner, so the claim's outcome is
    #: known without asking (engine/assignments.py, "predictable claims").
    unchanged: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def build(cls, **kwargs: Any) -> Definition:
        treatments = kwargs["treatments"]
        order = [t.name for t in treatments]
        kwargs.setdefault("table", allocation.lookup_table(kwargs["ranges"], order))
        kwargs.setdefault("salt_bytes", kwargs["salt"].encode())
        kwargs.setdefault("by_name", {t.name: t for t in treatments})
        kwargs.setdefault("variants", {t.name: Variant(t.name, t.payload) for t in treatments})
        kwargs.setdefault("hasher", allocation.keyed_hasher(kwargs["salt_bytes"]))
        return cls(**kwargs)

    @property
    def store_name(self) -> str:
        """The namespace of this experiment's assignments in the store."""
        if self.store_generation:
            return f"{self.name}~{self.store_generation}"
        return self.name

    @property
    def variant_names(self) -> list[str]:
        return [t.name for t in self.treatments]

    def slot_for_key(self, key: str) -> int:
        """This context key's slot (allocation.slot_for, inlined: it runs per resolution)."""
        hasher = self.hasher.copy()
        hasher.update(key.encode())
        return int.from_bytes(hasher.digest(), "big") % allocation.SLOTS

    def treatment_at(self, slot: int) -> TreatmentDef | None:
        """The slot table's owner of ``slot`` (None if every weight is 0)."""
        index = self.table[slot]
        return None if index == 255 else self.treatments[index]

    def treatment_for_key(self, key: str) -> TreatmentDef | None:
        """The slot table's owner of this context key's slot (None if every weight is 0)."""
        return self.treatment_at(self.slot_for_key(key))

    def effective_shares(self) -> dict[str, float]:
        counts = {t.name: 0 for t in self.treatments}
        for start, stop, name in self.ranges:
            counts[name] = counts.get(name, 0) + stop - start
        return {name: n / allocation.SLOTS for name, n in counts.items()}


class _Snapshot:
    def __init__(self) -> None:
        self.definitions: dict[str, Definition] | None = None
        self.checked_at = 0.0
        self.lock = threading.Lock()


_snapshot = _Snapshot()


def _load() -> dict[str, Definition] | None:
    """A fresh snapshot from the source of truth; None when it cannot be read."""
    try:
        return dict(hooks.load_definitions())
    except Exception:
        report_failure("Loading experiment definitions failed")
        return None


def all_definitions() -> dict[str, Definition]:
    """The current snapshot, reloaded at most once per ``DEFINITIONS_TTL``.

    A database that cannot be read keeps the last snapshot in service (and is asked again
    after the TTL); with no snapshot at all every experiment serves its control.
    """
    snap = _snapshot
    now = time.monotonic()
    definitions = snap.definitions
    if definitions is not None and now - snap.checked_at < settings.DEFINITIONS_TTL:
        return definitions
    with snap.lock:
        if snap.definitions is not None and now - snap.checked_at < settings.DEFINITIONS_TTL:
            return snap.definitions
        loaded = _load()
        if loaded is None:
            if snap.definitions is not None:
                snap.checked_at = time.monotonic()
                return snap.definitions
            return {}
        if hooks.uncommitted_change():
            # This transaction changed definitions and may never commit: serve what it sees
            # to it, but do not keep it for other threads (the commit invalidates anyway).
            return loaded
        snap.definitions = loaded
        snap.checked_at = time.monotonic()
        return loaded


def get_definition(name: str) -> Definition | None:
    return all_definitions().get(name)


def invalidate(shared: bool = True) -> None:
    """Forget the snapshot: the next resolution in this process reloads it.

    Other processes reload within ``DEFINITIONS_TTL`` on their own. ``shared`` is accepted
    for compatibility and ignored: there is no shared copy to invalidate any more.
    """
    _snapshot.definitions = None
