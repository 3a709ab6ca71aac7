"""Namespace tables and experiment populations, from the database.

Shared by the loader (the engine's partitions) and the phase recorder (services.py), so that
readers never see a range table the recorder would not produce: the table of a namespace is
always derived from its last recorded ``allocation`` and its members' current shares
(``engine/namespaces.table_for``), and :func:`record_allocations` stores exactly that.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction

from django_experiments.engine import allocation, namespaces
from django_experiments.engine.placement import (
    Partition,
    Population,
    holdout_label,
    namespace_label,
)
from django_experiments.namespace_validation import percent_text

logger = logging.getLogger("django_experiments")

#: The population of an experiment whose namespace cannot be loaded: nobody is in it.
CLOSED = Population(namespace=Partition("unusable", "namespace/", bytes([255]) * allocation.SLOTS))


def members_of(namespace: Any, experiments: Iterable[Any]) -> list[tuple[str, int]]:
    """``[(owner, slots)]`` of the namespace's experiments, in id order (the layout order)."""
    return [
        (str(e.pk), namespaces.slots_of(e.namespace_share))
        for e in sorted(experiments, key=lambda e: e.pk)
        if e.namespace_id == namespace.pk
    ]


def table_of(namespace: Any, members: Sequence[tuple[str, int]]) -> list[allocation.Range]:
    """The namespace's range table for its members' current shares (minimal movement from the
    recorded one; a corrupt recorded table is laid out afresh)."""
    try:
        old = allocation.validate_ranges(namespace.allocation or [])
    except ValueError:
        logger.warning("Namespace %r has a corrupt allocation; laying it out afresh", namespace)
        old = []
    holdout = namespaces.slots_of(namespace.holdout_percent)
    return namespaces.table_for(old, holdout, members)


def record_allocations() -> None:
    """Store every namespace's current table (idempotent; run before phases are recorded)."""
    from django_experiments.models import Experiment, Namespace

    with transaction.atomic():
        found = list(Namespace.objects.select_for_update().order_by("pk"))
        if not found:
            return
        experiments = list(Experiment.objects.filter(namespace__isnull=False))
        for namespace in found:
            table = [list(r) for r in table_of(namespace, members_of(namespace, experiments))]
            if table != namespace.allocation:
                # update(): no signal, so recording does not schedule another recording.
                Namespace.objects.filter(pk=namespace.pk).update(allocation=table)
                namespace.allocation = table


def global_holdout() -> Any:
    from django_experiments.models import GlobalHoldout

    return GlobalHoldout.objects.order_by("pk").first()


def population_of(experiment: Any, holdout: Any = None) -> dict[str, Any]:
    """Who is in ``experiment``, as a phase records it: its namespace range and the
    holdouts covering it. Empty when every context is in it."""
    from django_experiments.models import Experiment

    holdout = holdout if holdout is not None else global_holdout()
    population: dict[str, Any] = {}
    namespace = experiment.namespace
    if namespace is not None:
        siblings = Experiment.objects.filter(namespace=namespace)
        table = table_of(namespace, members_of(namespace, siblings))
        population["namespace"] = namespace.name
        population["salt"] = namespace.salt
        population["slots"] = namespaces.owned_by(table, str(experiment.pk))
        if namespaces.slots_of(namespace.holdout_percent):
            population["namespace_holdout"] = percent_text(namespace.holdout_percent)
    if holdout is not None and namespaces.slots_of(holdout.percent):
        population["global_holdout"] = percent_text(holdout.percent)
    return population


def partitions(experiments: Sequence[Any], holdout: Any) -> dict[int, Population]:
    """The engine's :class:`Population` per experiment id, for experiments that have one.

    Experiments of one namespace share one :class:`Partition` object (one 10 kB table).
    """
    global_partition = None
    held = namespaces.slots_of(holdout.percent) if holdout is not None else 0
    if held:
        global_partition = Partition.build(
            "global holdout",
            holdout_label(holdout.salt),
            [(0, held, namespaces.HOLDOUT)],
            [namespaces.HOLDOUT],
        )
    by_namespace: dict[int, tuple[Partition, dict[str, int]]] = {}
    out: dict[int, Population] = {}
    for experiment in experiments:
        namespace = experiment.namespace
        if namespace is None:
            if global_partition is not None:
                out[experiment.pk] = Population(holdout=global_partition)
            continue
        built = by_namespace.get(namespace.pk)
        if built is None:
            built = by_namespace[namespace.pk] = _namespace_partition(namespace, experiments)
        partition, index = built
        out[experiment.pk] = Population(
            holdout=global_partition,
            namespace=partition,
            owner=index.get(str(experiment.pk), -1),
        )
    return out


def _namespace_partition(
    namespace: Any, experiments: Sequence[Any]
) -> tuple[Partition, dict[str, int]]:
    members = members_of(namespace, experiments)
    owners = [namespaces.HOLDOUT, *(owner for owner, _ in members)][:255]
    index = {owner: i for i, owner in enumerate(owners)}
    table = [r for r in table_of(namespace, members) if r[2] in index]
    label = namespace_label(namespace.salt or namespace.name)
    return Partition.build(namespace.name, label, table, owners), index


def share_text(slots: int) -> str:
    return percent_text(Decimal(slots) / 100)
