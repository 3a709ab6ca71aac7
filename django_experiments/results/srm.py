"""The admin changelist's SRM flag: the current phase's exposed counts against its weights.

One grouped sum over the daily exposure rollup per experiment, cached briefly: the changelist
shows many experiments and the flag does not need to be fresher than a minute.
"""

from __future__ import annotations

from django.core.cache import caches
from django.db.models import Sum

from django_experiments.conf import settings
from django_experiments.models import Experiment
from django_experiments.results import analysis
from django_experiments.results.report import SRM_THRESHOLD, _weights
from django_experiments.results.rollup import HOLDOUT_VARIANT
from django_experiments.tracking.models import NO_PHASE, DailyExposure

CACHE_SECONDS = 60


def current_srm_p_value(experiment: Experiment) -> float | None:
    phase = experiment.current_phase
    number = phase.number if phase is not None else None
    cache = caches["default"]
    key = f"glex:srm:{experiment.pk}:{number}"
    cached = cache.get(key)
    if cached is not None:
        value: float | None = cached[0]
        return value
    stored = settings.full_name(experiment.name)
    counts = dict(
        DailyExposure.objects.filter(
            experiment=stored, phase=NO_PHASE if number is None else number
        )
        .exclude(variant=HOLDOUT_VARIANT)  # served control, analysed apart
        .values_list("variant")
        .annotate(n=Sum("exposed"))
        .order_by()
    )
    weights = _weights(phase, list(experiment.treatments.all()))
    names = list(weights) + sorted(set(counts) - set(weights))
    p_value = analysis.srm([counts.get(n, 0) for n in names], [weights.get(n, 0.0) for n in names])
    cache.set(key, (p_value,), CACHE_SECONDS)
    return p_value


def srm_failed(experiment: Experiment) -> bool:
    p_value = current_srm_p_value(experiment)
    return p_value is not None and p_value < SRM_THRESHOLD
