"""The admin changelist's SRM flag: the current phase's exposed counts against its weights.

One grouped sum over the daily exposure rollup for a whole changelist page, cached briefly per
experiment and phase: the changelist shows many experiments and the flag does not need to be
fresher than a minute.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.core.cache import caches
from django.db.models import Prefetch, Q, Sum, prefetch_related_objects

from django_experiments.conf import settings
from django_experiments.models import Experiment, Phase
from django_experiments.results import analysis
from django_experiments.results.report import _weights
from django_experiments.results.rollup import HOLDOUT_VARIANT
from django_experiments.tracking.models import NO_PHASE, DailyExposure

CACHE_SECONDS = 60

#: Where :func:`p_values` prefetches each experiment's open phase: one query for a page.
OPEN_PHASES = "glex_open_phases"


def current_srm_p_value(experiment: Experiment) -> float | None:
    return p_values([experiment])[experiment.pk]


def p_values(experiments: Sequence[Experiment]) -> dict[int, float | None]:
    """``{pk: SRM p-value of the current phase}`` (None: nothing to test yet).

    One query for the open phases, one cache read, then one grouped query for the experiments
    not cached. Treatments are read from a prefetched relation when the queryset has one.
    """
    open_phases = Phase.objects.filter(ended_at__isnull=True).order_by("-number")
    prefetch_related_objects(
        [exp for exp in experiments if not hasattr(exp, OPEN_PHASES)],
        Prefetch("phases", queryset=open_phases, to_attr=OPEN_PHASES),
    )
    phases = {exp.pk: _open_phase(exp) for exp in experiments}
    keys = {exp.pk: f"glex:srm:{exp.pk}:{_number(phases[exp.pk])}" for exp in experiments}
    cache = caches["default"]
    cached = cache.get_many(list(keys.values()))
    out: dict[int, float | None] = {}
    missing: list[Experiment] = []
    for exp in experiments:
        hit = cached.get(keys[exp.pk])
        if hit is not None:
            out[exp.pk] = hit[0]
        else:
            missing.append(exp)
    if not missing:
        return out
    stored = {exp.pk: settings.full_name(exp.name) for exp in missing}
    counts = _exposed_counts([(stored[e.pk], phases[e.pk]) for e in missing])
    fresh = {}
    for exp in missing:
        phase = phases[exp.pk]
        by_variant = counts.get((stored[exp.pk], _number(phase)), {})
        weights = _weights(phase, list(exp.treatments.all()))
        names = list(weights) + sorted(set(by_variant) - set(weights))
        out[exp.pk] = analysis.srm(
            [by_variant.get(n, 0) for n in names], [weights.get(n, 0.0) for n in names]
        )
        fresh[keys[exp.pk]] = (out[exp.pk],)
    cache.set_many(fresh, CACHE_SECONDS)
    return out


def _open_phase(experiment: Experiment) -> Phase | None:
    prefetched: list[Phase] = getattr(experiment, OPEN_PHASES)
    return prefetched[0] if prefetched else None


def _number(phase: Phase | None) -> int:
    return NO_PHASE if phase is None else phase.number


def _exposed_counts(
    wanted: Sequence[tuple[str, Phase | None]],
) -> dict[tuple[str, int], dict[str, int]]:
    """``{(stored name, phase number): {variant: exposed}}`` in one grouped query."""
    where = Q()
    for stored, phase in wanted:
        where |= Q(experiment=stored, phase=_number(phase))
    rows = (
        DailyExposure.objects.filter(where)
        .exclude(variant=HOLDOUT_VARIANT)  # served control, analysed apart
        .values_list("experiment", "phase", "variant")
        .annotate(n=Sum("exposed"))
        .order_by()
    )
    out: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for stored, number, variant, n in rows:
        out[(stored, number)][variant] = n
    return out
