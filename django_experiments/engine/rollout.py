"""Rollout strategies: which variant a new context gets, and whether the experiment is on."""

from __future__ import annotations

import random
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

from django_experiments.engine import allocation

if TYPE_CHECKING:
    from django_experiments.engine.experiment import Experiment


class Rollout:
    """Base strategy. Subclass and override :meth:`resolve` (and optionally :meth:`enabled`)."""

    #: True when ``resolve`` depends only on the context key and the definition (no store, no
    #: randomness): the engine may then compute it before reading the store and fold the read
    #: and the write into one round trip.
    deterministic = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.plain = cls.deterministic and cls.enabled is Rollout.enabled

    #: Deterministic and no ``enabled()`` of its own (set per subclass): the engine's fast path.
    plain = False

    def __init__(self, **options: Any) -> None:
        self.options = options

    def enabled(self, experiment: Experiment) -> bool:
        return True

    def resolve(self, experiment: Experiment) -> str | None:
        """The variant name for a context with nothing stored; None means control."""
        raise NotImplementedError

    @staticmethod
    def candidates(experiment: Experiment) -> list[tuple[str, float]]:
        definition = experiment.definition
        if definition is None:
            return []
        return [(t.name, t.weight) for t in definition.treatments if t.weight > 0]


class Percent(Rollout):
    """Slot table by weight (the default). ``distribution`` overrides admin weights.

    ``Percent(distribution={"control": 25, "candidate": 75})`` lays out its own table (same
    salt, same slot per context) instead of the admin's; without it the admin weights rule.
    """

    deterministic = True

    def __init__(self, distribution: Mapping[str, float] | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.distribution = dict(distribution) if distribution else None

    def resolve(self, experiment: Experiment) -> str | None:
        definition = experiment.definition
        if definition is None:
            return None
        key = experiment.context.key
        if self.distribution is None:
            treatment = definition.treatment_for_key(key)
            return treatment.name if treatment is not None else None
        order = tuple(self.distribution)
        table = _distribution_table(tuple(self.distribution.items()))
        index = table[allocation.slot_for(definition.salt_bytes, key)]
        return None if index == 255 else order[index]


@lru_cache(maxsize=256)
def _distribution_table(items: tuple[tuple[str, float], ...]) -> bytes:
    order = [name for name, _ in items]
    ranges = allocation.fresh_table(allocation.slot_counts(list(items)), order)
    return allocation.lookup_table(ranges, order)


class Random(Rollout):
    """A weighted random pick per new context (sticky once stored)."""

    def resolve(self, experiment: Experiment) -> str | None:
        options = self.candidates(experiment)
        if not options:
            return None
        names, weights = zip(*options, strict=True)
        return random.choices(names, weights=weights)[0]


class RoundRobin(Rollout):
    """Cycles through the variants with a positive weight, using an atomic store counter."""

    def resolve(self, experiment: Experiment) -> str | None:
        options = [name for name, _ in self.candidates(experiment)]
        if not options:
            return None
        count = experiment.store_increment()
        return options[(count - 1) % len(options)]


BUILTIN: dict[str, type[Rollout]] = {
    "percent": Percent,
    "random": Random,
    "round_robin": RoundRobin,
}


def resolve_rollout(
    spec: Rollout | type[Rollout] | str | None, default: str | type = "percent"
) -> Rollout:
    """Accept an instance, a class, a builtin name or a dotted path."""
    if spec is None:
        spec = default
    if isinstance(spec, Rollout):
        return spec
    if isinstance(spec, str):
        spec = BUILTIN.get(spec) or import_string(spec)
        if isinstance(spec, Rollout):  # a path may name a configured instance
            return spec
    if isinstance(spec, type) and issubclass(spec, Rollout):
        return spec()
    raise TypeError(f"{spec!r} is not a Rollout, a Rollout class, a builtin name or a path")
