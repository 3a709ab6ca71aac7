"""Experiment results for the admin, read from the events the database sink stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count

from django_experiments.conf import settings
from django_experiments.models import Experiment, Phase
from django_experiments.stats import VariantResult, compare
from django_experiments.tracking.events import ASSIGNMENT
from django_experiments.tracking.models import TrackedEvent


@dataclass
class Results:
    phase: Phase | None
    since: datetime | None
    control: str
    assigned: dict[str, int]
    events: dict[str, list[VariantResult]] = field(default_factory=dict)


def results_for(experiment: Experiment) -> Results:
    """Per event: contexts converted / contexts assigned, per variant, in the current phase.

    Counts distinct context keys, so repeated events of one visitor count once; only events
    since the current phase started count, because earlier phases had other weights.
    """
    phase = experiment.current_phase
    since = phase.started_at if phase is not None else None
    events = TrackedEvent.objects.filter(experiment=settings.full_name(experiment.name))
    if since is not None:
        events = events.filter(timestamp__gte=since)
    assigned = {
        row["variant"]: row["n"]
        for row in events.filter(event=ASSIGNMENT)
        .values("variant")
        .annotate(n=Count("key", distinct=True))
    }
    control = next(
        (t.name for t in experiment.treatments.all() if t.is_control),
        "control",
    )
    converted: dict[str, dict[str, int]] = {}
    for row in (
        events.exclude(event=ASSIGNMENT)
        .values("event", "variant")
        .annotate(n=Count("key", distinct=True))
        .order_by("event")
    ):
        converted.setdefault(row["event"], {})[row["variant"]] = row["n"]
    return Results(
        phase=phase,
        since=since,
        control=control,
        assigned=assigned,
        events={name: compare(control, assigned, counts) for name, counts in converted.items()},
    )
