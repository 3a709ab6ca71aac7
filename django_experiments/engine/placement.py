"""Whether a context belongs to an experiment's population: holdouts and namespaces.

A partition is a keyed hash space of 10,000 slots shared by several experiments: the global
holdout, or a namespace (whose table also holds the namespace's own holdout). A context's
slot in a partition is one keyed hash of its identities under the partition's label
(``context.partition_slot``), the same for every experiment resolved with that context, so
the slot is computed once per partition and context per scope (``Scope.slots``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django_experiments.engine import allocation
from django_experiments.engine.context import identity_material, partition_slot
from django_experiments.engine.decision import Reason

if TYPE_CHECKING:
    from django_experiments.engine.context import Context
    from django_experiments.engine.scope import Scope

#: Owner index of held-out slots in every partition's table (255 marks a slot nobody owns).
HELD_OUT = 0

_HOLDOUT, _NAMESPACE = Reason.HOLDOUT, Reason.NAMESPACE


@dataclass(frozen=True, slots=True)
class Partition:
    """A hash space: the label contexts are hashed under, and the owner index of each slot."""

    name: str
    label: str
    table: bytes

    @classmethod
    def build(
        cls, name: str, label: str, ranges: Iterable[allocation.Range], owners: list[str]
    ) -> Partition:
        """``owners[0]`` must be the holdout's owner name (index :data:`HELD_OUT`)."""
        return cls(name, label, allocation.lookup_table(ranges, owners))


@dataclass(frozen=True, slots=True)
class Population:
    """What decides whether a context is in one experiment, besides its own rules."""

    #: The global holdout (None when it is 0 %).
    holdout: Partition | None = None
    #: The experiment's namespace (None when it is in none).
    namespace: Partition | None = None
    #: The experiment's owner index in the namespace's table (-1: it owns no slot).
    owner: int = -1


def namespace_label(salt: str) -> str:
    return f"namespace/{salt}"


def holdout_label(salt: str) -> str:
    return f"holdout/{salt}"


def slot(partition: Partition, material: str, scope: Scope | None) -> int:
    """The context's slot in ``partition``, hashed once per scope."""
    if scope is None:
        return partition_slot(partition.label, material)
    cache = scope.slots
    key = (partition.label, material)
    found = cache.get(key)
    if found is None:
        found = cache[key] = partition_slot(partition.label, material)
    return found


def place(population: Population, context: Context) -> Reason | None:
    """``Reason.HOLDOUT`` (held out), ``Reason.NAMESPACE`` (another experiment's range or free
    space of the namespace), or None: the context is in the experiment's population."""
    sticky = context.sticky_to
    material = identity_material(context.value if sticky is None else sticky)
    scope = context.scope
    holdout = population.holdout
    if holdout is not None and holdout.table[slot(holdout, material, scope)] == HELD_OUT:
        return _HOLDOUT
    namespace = population.namespace
    if namespace is not None:
        owner = namespace.table[slot(namespace, material, scope)]
        if owner == HELD_OUT:
            return _HOLDOUT
        if owner != population.owner:
            return _NAMESPACE
    return None
