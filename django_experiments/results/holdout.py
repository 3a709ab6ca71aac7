"""The holdout against everyone else: what the experiments a holdout covers add up to.

Contexts exposed in a holdout are rolled up under ``rollup.HOLDOUT_VARIANT`` (they were
served control). :func:`split` takes them out of a phase's aggregates, so that the
per-variant analysis and the SRM test never see them, and :func:`compare` sets them, per
metric, against every other exposed context of the phase (all variants together).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django_experiments.results import analysis
from django_experiments.results.aggregate import Aggregates, Totals
from django_experiments.results.rollup import HOLDOUT_VARIANT


@dataclass(frozen=True)
class HoldoutMetric:
    event: str
    kind: str
    holdout_exposed: int
    holdout_mean: float | None
    rest_exposed: int
    rest_mean: float | None
    #: Everyone else against the holdout: the rate (or mean) difference, rest − holdout.
    comparison: analysis.Difference

    @property
    def label(self) -> str:
        if self.kind == analysis.BINOMIAL:
            return f"{self.event}: share of exposed contexts that converted"
        return f"{self.event}: mean value per exposed context"


@dataclass
class HoldoutReport:
    exposed: int
    rest_exposed: int
    metrics: list[HoldoutMetric] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "exposed": self.exposed,
            "rest_exposed": self.rest_exposed,
            "metrics": [
                {
                    "event": m.event,
                    "kind": m.kind,
                    "holdout_exposed": m.holdout_exposed,
                    "holdout_mean": m.holdout_mean,
                    "rest_exposed": m.rest_exposed,
                    "rest_mean": m.rest_mean,
                    "comparison": m.comparison.__dict__,
                }
                for m in self.metrics
            ],
        }


def split(data: Aggregates) -> tuple[Aggregates, Aggregates]:
    """``(everyone but the holdout, the holdout)``, each as a one-variant-per-name aggregate."""
    rest = Aggregates(
        exposed={k: v for k, v in data.exposed.items() if k != HOLDOUT_VARIANT},
        exposed_daily={k: v for k, v in data.exposed_daily.items() if k != HOLDOUT_VARIANT},
        metrics={
            event: {k: v for k, v in per.items() if k != HOLDOUT_VARIANT}
            for event, per in data.metrics.items()
        },
        metrics_daily={
            event: {k: v for k, v in per.items() if k != HOLDOUT_VARIANT}
            for event, per in data.metrics_daily.items()
        },
    )
    # Metrics only the holdout converted on stay listed (with nobody else converting).
    held = Aggregates(
        exposed={HOLDOUT_VARIANT: data.exposed.get(HOLDOUT_VARIANT, 0)},
        metrics={
            event: {HOLDOUT_VARIANT: per[HOLDOUT_VARIANT]}
            for event, per in data.metrics.items()
            if HOLDOUT_VARIANT in per
        },
    )
    return rest, held


def compare(
    rest: Aggregates,
    held: Aggregates,
    *,
    alpha: float,
    sequential_tuning: float | None,
) -> HoldoutReport:
    held_n = held.exposed.get(HOLDOUT_VARIANT, 0)
    rest_n = sum(rest.exposed.values())
    report = HoldoutReport(held_n, rest_n)
    for event in sorted(set(rest.metrics) | set(held.metrics)):
        held_totals = held.metrics.get(event, {}).get(HOLDOUT_VARIANT, Totals())
        rest_totals = sum(rest.metrics.get(event, {}).values(), Totals())
        kinds = [analysis.BINOMIAL]
        if held_totals.valued or rest_totals.valued:
            kinds.append(analysis.VALUE)
        for kind in kinds:
            held_mean, _, _ = analysis.mean_interval(kind, held_n, held_totals, alpha)
            rest_mean, _, _ = analysis.mean_interval(kind, rest_n, rest_totals, alpha)
            comparison = (
                analysis.difference(
                    kind,
                    (held_n, held_totals),
                    (rest_n, rest_totals),
                    alpha=alpha,
                    sequential_tuning=sequential_tuning,
                )
                if held_n > 0 and rest_n > 0
                else analysis.Difference()
            )
            report.metrics.append(
                HoldoutMetric(event, kind, held_n, held_mean, rest_n, rest_mean, comparison)
            )
    return report
