"""Grouped SQL over the rollups: per variant and day, exposed contexts and metric totals.

Two queries per phase, each returning (variants x days [x metrics]) rows, whatever the number
of events: the web process's memory does not grow with traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate

from django_experiments.tracking.models import ContextConversion, ContextExposure


@dataclass(frozen=True)
class Totals:
    """One variant's sums for one metric: what the statistics need, and nothing per context."""

    converted: int = 0
    total: float = 0.0
    squares: float = 0.0
    valued: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.converted + other.converted,
            self.total + other.total,
            self.squares + other.squares,
            self.valued + other.valued,
        )


@dataclass
class Aggregates:
    """Exposed contexts and metric totals of one phase, overall and per exposure day."""

    exposed: dict[str, int] = field(default_factory=dict)
    exposed_daily: dict[str, dict[date, int]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Totals]] = field(default_factory=dict)
    metrics_daily: dict[str, dict[str, dict[date, Totals]]] = field(default_factory=dict)

    @property
    def days(self) -> list[date]:
        found: set[date] = set()
        for per_day in self.exposed_daily.values():
            found.update(per_day)
        return sorted(found)


def _phase_filter(experiment: str, phase: int | None) -> Q:
    if phase is None:
        return Q(experiment=experiment, phase__isnull=True)
    return Q(experiment=experiment, phase=phase)


def aggregate(experiment: str, phase: int | None) -> Aggregates:
    """Totals for the contexts first exposed in ``phase`` of ``experiment`` (its stored name)."""
    result = Aggregates()
    where = _phase_filter(experiment, phase)
    exposures = (
        ContextExposure.objects.filter(where)
        .annotate(day=TruncDate("exposed_at"))
        .values("variant", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in exposures:
        variant, day, n = row["variant"], row["day"], row["n"]
        result.exposed[variant] = result.exposed.get(variant, 0) + n
        result.exposed_daily.setdefault(variant, {})[day] = n
    conversions = (
        ContextConversion.objects.filter(where)
        .annotate(day=TruncDate("exposed_at"))
        .values("event", "variant", "day")
        .annotate(
            converted=Count("id"),
            sum_total=Sum("total"),
            sum_squares=Sum(F("total") * F("total")),
            sum_valued=Sum("valued"),
        )
        .order_by()
    )
    for record in conversions:
        totals = Totals(
            converted=record["converted"],
            total=float(record["sum_total"] or 0.0),
            squares=float(record["sum_squares"] or 0.0),
            valued=int(record["sum_valued"] or 0),
        )
        event, variant = record["event"], record["variant"]
        per_variant = result.metrics.setdefault(event, {})
        per_variant[variant] = per_variant.get(variant, Totals()) + totals
        result.metrics_daily.setdefault(event, {}).setdefault(variant, {})[record["day"]] = totals
    return result
