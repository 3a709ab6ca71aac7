"""Experiment definitions read from the database: the engine's ``load_definitions`` hook.

Also the slot-table derivation that phase recording (services.py) shares with it, so readers
never see a table the recorder would not produce.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from django.db import transaction

from django_experiments.engine import allocation
from django_experiments.engine.definitions import Definition, TreatmentDef
from django_experiments.populations import CLOSED, global_holdout, partitions
from django_experiments.validation import format_weight

logger = logging.getLogger("django_experiments")


def weights_of(treatments: Any) -> dict[str, str]:
    """Canonical ``{name: weight}`` strings, the form phases record."""
    return {t.name: format_weight(t.weight) for t in treatments}


def load_from_db() -> dict[str, Definition]:
    """Build every definition from the DB (four queries: experiments with their winners and
    namespaces, treatments, phases, the global holdout)."""
    from django.db.models import Prefetch

    from django_experiments.models import Experiment, Phase

    experiments = list(
        Experiment.objects.select_related("winner", "namespace").prefetch_related(
            "treatments",
            Prefetch(
                "phases",
                # Every field table_for and stable_slots read: a deferred one would cost a
                # query per phase on each reload.
                queryset=Phase.objects.only(
                    "experiment_id", "number", "ended_at", "salt", "weights", "slot_table"
                ).order_by("-number"),
                to_attr="all_phases",
            ),
        )
    )
    try:
        populations = partitions(experiments, global_holdout())
    except Exception:
        # A broken namespace row must not take every experiment down, nor let namespaced
        # experiments overlap: those serve control, untracked, until it is fixed.
        logger.exception("Namespaces or the global holdout are unusable")
        populations = {e.pk: CLOSED for e in experiments if e.namespace_id is not None}
    out: dict[str, Definition] = {}
    for exp in experiments:
        treatments = list(exp.treatments.all())
        open_phases = [p for p in exp.all_phases if p.ended_at is None]
        phase = open_phases[0] if open_phases else None
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
            "population": populations.get(exp.pk),
        }
        try:
            ranges = tuple(table_for(treatments, exp.salt, phase))
            out[exp.name] = Definition.build(
                ranges=ranges, unchanged=stable_slots(ranges, exp.salt, exp.all_phases), **fields
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


def stable_slots(current: tuple[allocation.Range, ...], salt: str, phases: list[Any]) -> bytes:
    """The slots whose owner never changed across the experiment's phases (b"": none known).

    Only when every phase used the current salt: after a re-randomisation a context's earlier
    slot is another one, so nothing about its stored variant can be predicted. A corrupt or
    missing phase table also predicts nothing.
    """
    if not phases or any(p.salt != salt for p in phases):
        return b""
    try:
        tables = [allocation.validate_ranges(p.slot_table) for p in phases]
    except ValueError:
        return b""
    return allocation.unchanged_slots(current, tables)


#: Per DB connection (so per thread), the outermost atomic block that changed definitions.
_dirty_blocks: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _connection() -> Any:
    return transaction.get_connection()


def _outermost_block(connection: Any) -> Any:
    """The outermost atomic block of the code's own (test-runner wrappers excluded), if any."""
    for block in connection.atomic_blocks:
        if not getattr(block, "_from_testcase", False):
            return block
    return None


def mark_dirty() -> None:
    """Remember that the transaction open on this thread (if any) changed definitions."""
    try:
        connection = _connection()
        block = _outermost_block(connection)
    except Exception:  # no usable DB connection: nothing can be uncommitted either
        return
    if block is not None:
        _dirty_blocks[connection] = block


def uncommitted_change() -> bool:
    """Did the transaction still open on this thread's connection change definitions?"""
    try:
        connection = _connection()
    except Exception:
        return False
    block = _dirty_blocks.get(connection)
    if block is None:
        return False
    if any(b is block for b in connection.atomic_blocks):
        return True
    del _dirty_blocks[connection]
    return False
