"""The phase's daily rollups read back: per variant and day, exposed contexts and metric sums.

Two indexed queries per phase, each returning (variants x days [x metrics]) rows, whatever
the number of events: time and the web process's memory do not grow with traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django_experiments.tracking.models import NO_PHASE, DailyConversion, DailyExposure


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


def aggregate(experiment: str, phase: int | None) -> Aggregates:
    """Totals for the contexts first exposed in ``phase`` of ``experiment`` (its stored name).

    Reads the daily rollups: (days x variants) and (days x variants x events) rows.
    """
    result = Aggregates()
    where = {"experiment": experiment, "phase": NO_PHASE if phase is None else phase}
    exposures = DailyExposure.objects.filter(**where, exposed__gt=0).values_list(
        "variant", "day", "exposed"
    )
    for variant, day, n in exposures:
        result.exposed[variant] = result.exposed.get(variant, 0) + n
        result.exposed_daily.setdefault(variant, {})[day] = n
    conversions = DailyConversion.objects.filter(**where, converted__gt=0).values_list(
        "event", "variant", "day", "converted", "total", "squares", "valued"
    )
    for event, variant, day, converted, total, squares, valued in conversions:
        totals = Totals(converted, float(total), max(0.0, float(squares)), valued)
        per_variant = result.metrics.setdefault(event, {})
        per_variant[variant] = per_variant.get(variant, Totals()) + totals
        result.metrics_daily.setdefault(event, {}).setdefault(variant, {})[day] = totals
    return result
