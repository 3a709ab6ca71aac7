"""Experiment definitions as plain data, cached in-process and in the shared cache.

Resolution reads a frozen snapshot: zero DB queries once warm. The snapshot is rebuilt when the
process learns that definitions changed:

* in the saving process, immediately (model signals clear it);
* in every other process, within ``DEFINITIONS_TTL`` seconds: each process compares a small
  version token in the shared cache at most once per TTL, and fetches the JSON blob (or, on a
  miss or a corrupt blob, the DB) only when the token moved.

Caches hold JSON-able dicts only, never pickled model instances.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.core.cache import caches
from django.db import router, transaction

from django_experiments.conf import settings
from django_experiments.engine import allocation

logger = logging.getLogger("django_experiments")

BLOB_KEY = "django_experiments:definitions:v1"
VERSION_KEY = "django_experiments:definitions:version"
SCHEMA = 1


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
    # Derived once per snapshot so that resolution is a hash and an index.
    table: bytes = field(default=b"", compare=False, repr=False)
    salt_bytes: bytes = field(default=b"", compare=False, repr=False)
    by_name: Mapping[str, TreatmentDef] = field(default_factory=dict, compare=False, repr=False)
    variants: Mapping[str, Variant] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, **kwargs: Any) -> Definition:
        treatments = kwargs["treatments"]
        order = [t.name for t in treatments]
        kwargs.setdefault("table", allocation.lookup_table(kwargs["ranges"], order))
        kwargs.setdefault("salt_bytes", kwargs["salt"].encode())
        kwargs.setdefault("by_name", {t.name: t for t in treatments})
        kwargs.setdefault("variants", {t.name: Variant(t.name, t.payload) for t in treatments})
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

    def treatment_for_key(self, key: str) -> TreatmentDef | None:
        """The slot table's owner of this context key's slot (None if every weight is 0)."""
        index = self.table[allocation.slot_for(self.salt_bytes, key)]
        return None if index == 255 else self.treatments[index]

    def effective_shares(self) -> dict[str, float]:
        counts = {t.name: 0 for t in self.treatments}
        for start, stop, name in self.ranges:
            counts[name] = counts.get(name, 0) + stop - start
        return {name: n / allocation.SLOTS for name, n in counts.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "salt": self.salt,
            "treatments": [[t.name, t.weight, t.is_control, t.payload] for t in self.treatments],
            "control": self.control,
            "winner": self.winner,
            "ranges": [list(r) for r in self.ranges],
            "phase": self.phase,
            "client_visible": self.client_visible,
            "store_generation": self.store_generation,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Definition:
        """Parse defensively: any shape problem raises ValueError (the caller reloads)."""
        try:
            treatments = tuple(
                TreatmentDef(str(n), float(w), bool(c), p) for n, w, c, p in data["treatments"]
            )
            ranges = tuple(allocation.validate_ranges(data["ranges"]))
            names = {t.name for t in treatments}
            if any(name not in names for _, _, name in ranges):
                raise ValueError("slot table names an unknown treatment")
            control = str(data["control"])
            if treatments and control not in names:
                raise ValueError("control is not a treatment")
            return cls.build(
                name=str(data["name"]),
                status=str(data["status"]),
                salt=str(data["salt"]),
                treatments=treatments,
                control=control,
                winner=data["winner"] if data["winner"] in names else None,
                ranges=ranges,
                phase=int(data["phase"]),
                client_visible=bool(data.get("client_visible", False)),
                store_generation=int(data.get("store_generation", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"corrupt definition: {exc}") from exc


def weights_of(treatments: Any) -> dict[str, str]:
    """Canonical ``{name: weight}`` strings, the form phases record."""
    return {t.name: format(t.weight.normalize(), "f") for t in treatments}


def load_from_db() -> dict[str, Definition]:
    """Build every definition from the DB (three queries)."""
    from django.db.models import Prefetch

    from django_experiments.models import Experiment, Phase

    experiments = Experiment.objects.select_related("winner").prefetch_related(
        "treatments",
        Prefetch(
            "phases",
            queryset=Phase.objects.filter(ended_at__isnull=True).order_by("-number"),
            to_attr="open_phases",
        ),
    )
    out: dict[str, Definition] = {}
    for exp in experiments:
        treatments = list(exp.treatments.all())
        phase = exp.open_phases[0] if exp.open_phases else None
        controls = [t.name for t in treatments if t.is_control]
        control = controls[0] if controls else (treatments[0].name if treatments else "control")
        fields: dict[str, Any] = {
            "name": exp.name,
            "status": exp.status,
            "salt": exp.salt,
            "treatments": tuple(
                TreatmentDef(t.name, float(t.weight), bool(t.is_control), t.payload)
                for t in treatments
            ),
            "control": control,
            "winner": exp.winner.name if exp.winner is not None else None,
            "phase": phase.number if phase else 0,
            "client_visible": exp.client_visible,
            "store_generation": exp.store_generation,
        }
        try:
            out[exp.name] = Definition.build(
                ranges=tuple(table_for(treatments, exp.salt, phase)), **fields
            )
        except Exception:
            # One broken row (written around validation) must not take every experiment
            # down: it serves its control to everyone until it is fixed.
            logger.exception("Experiment %r has unusable definitions; serving control", exp.name)
            fields["treatments"] = fields["treatments"][:255]
            out[exp.name] = Definition.build(ranges=(), **fields)
    return out


def table_for(treatments: list[Any], salt: str, phase: Any) -> list[allocation.Range]:
    """The slot table for the current weights, from the last committed phase.

    If weights changed since that phase (the change is not recorded yet, e.g. it is still
    inside a transaction) the pending table is derived the same way the phase recorder will
    derive it, so readers never see a table that the recorder would not produce.
    """
    order = [t.name for t in treatments]
    counts = allocation.slot_counts([(t.name, t.weight) for t in treatments])
    if phase is None or phase.salt != salt:
        return allocation.fresh_table(counts, order)
    try:
        old = allocation.validate_ranges(phase.slot_table)
    except ValueError:
        logger.warning("Phase %s has a corrupt slot table; laying slots out afresh", phase.pk)
        return allocation.fresh_table(counts, order)
    if phase.weights == weights_of(treatments) and {n for _, _, n in old} <= set(order):
        return old
    # Changed weights, or a table naming a treatment that no longer exists: slots of unknown
    # owners are freed like any other, so the result is still a minimal move.
    return allocation.rebalance(old, counts, order)


class _Snapshot:
    def __init__(self) -> None:
        self.definitions: dict[str, Definition] | None = None
        self.version: str | None = None
        self.checked_at = 0.0
        self.lock = threading.Lock()


_snapshot = _Snapshot()


def _cache() -> Any:
    return caches[settings.DEFINITIONS_CACHE_ALIAS]


def _refresh() -> dict[str, Definition]:
    try:
        cache = _cache()
        version = cache.get(VERSION_KEY)
    except Exception:  # shared cache down: keep serving what we have, else go to the DB
        logger.warning("Definitions cache unreachable", exc_info=True)
        if _snapshot.definitions is not None:
            return _snapshot.definitions
        _snapshot.version = None
        return load_from_db()
    if version is not None and version == _snapshot.version and _snapshot.definitions is not None:
        return _snapshot.definitions
    definitions = None
    if version is not None:
        definitions = _from_blob(_safe_get(cache, BLOB_KEY), version)
    if definitions is None:
        definitions = load_from_db()
        if _changed_in_open_transaction():
            # This transaction changed definitions and may never commit: keep what it sees to
            # this process (until the commit's invalidation, or the next TTL check if it rolls
            # back) and publish nothing, or every process would serve a rolled-back change.
            _snapshot.version = None
            return definitions
        if version is None:
            version = uuid.uuid4().hex
        _safe_set_many(
            cache,
            {
                VERSION_KEY: version,
                BLOB_KEY: {
                    "schema": SCHEMA,
                    "version": version,
                    "experiments": [d.to_json() for d in definitions.values()],
                },
            },
        )
    _snapshot.version = version
    return definitions


#: Per DB connection (so per thread), the outermost atomic block that changed definitions.
_dirty_blocks: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _connection() -> Any:
    from django_experiments.models import Experiment

    return transaction.get_connection(router.db_for_write(Experiment))


def _outermost_block(connection: Any) -> Any:
    """The outermost atomic block of the code's own (test-runner wrappers excluded), if any."""
    for block in connection.atomic_blocks:
        if not getattr(block, "_from_testcase", False):
            return block
    return None


def _mark_dirty() -> None:
    try:
        connection = _connection()
        block = _outermost_block(connection)
    except Exception:  # no usable DB connection: nothing can be uncommitted either
        return
    if block is not None:
        _dirty_blocks[connection] = block


def _changed_in_open_transaction() -> bool:
    """Did the transaction still open on this thread's connection change definitions?

    Only then may what it reads differ from what is committed (ATOMIC_REQUESTS alone does
    not stop a process from publishing).
    """
    connection = _connection()
    block = _dirty_blocks.get(connection)
    if block is None:
        return False
    if any(b is block for b in connection.atomic_blocks):
        return True
    del _dirty_blocks[connection]
    return False


def _from_blob(blob: Any, version: str) -> dict[str, Definition] | None:
    if blob is None:
        return None
    try:
        if blob["schema"] != SCHEMA or blob["version"] != version:
            return None
        return {d.name: d for d in map(Definition.from_json, blob["experiments"])}
    except (KeyError, TypeError, ValueError):
        logger.warning("Corrupt definitions in the shared cache; reloading from the database")
        return None


def _safe_get(cache: Any, key: str) -> Any:
    try:
        return cache.get(key)
    except Exception:
        logger.warning("Definitions cache unreachable", exc_info=True)
        return None


def _safe_set_many(cache: Any, values: dict[str, Any]) -> None:
    try:
        cache.set_many(values, None)
    except Exception:
        logger.warning("Definitions cache unreachable", exc_info=True)


def all_definitions() -> dict[str, Definition]:
    """The current snapshot, refreshed at most once per ``DEFINITIONS_TTL``."""
    snap = _snapshot
    now = time.monotonic()
    definitions = snap.definitions
    if definitions is not None and now - snap.checked_at < settings.DEFINITIONS_TTL:
        return definitions
    with snap.lock:
        if snap.definitions is not None and now - snap.checked_at < settings.DEFINITIONS_TTL:
            return snap.definitions
        definitions = _refresh()
        snap.definitions = definitions
        snap.checked_at = time.monotonic()
        return definitions


def get_definition(name: str) -> Definition | None:
    return all_definitions().get(name)


def invalidate(shared: bool = True) -> None:
    """Forget definitions here now, and (``shared``) tell every other process to reload."""
    _snapshot.definitions = None
    _snapshot.version = None
    _mark_dirty()
    if shared:
        cache = _cache()
        try:
            cache.delete(BLOB_KEY)
            cache.set(VERSION_KEY, uuid.uuid4().hex, None)
        except Exception:
            logger.warning("Definitions cache unreachable; other processes reload within TTL")
