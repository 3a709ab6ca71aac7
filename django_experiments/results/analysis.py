"""The bridge from aggregated totals to the statistics package (``django_experiments.stats``).

The only module of ``results`` that calls the statistics: it turns a variant's totals into a
``Summary`` and asks for the frequentist and Bayesian comparisons against control, the Holm
correction across variants, and the SRM test. No formula lives here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from django_experiments import stats
from django_experiments.results.aggregate import Totals

BINOMIAL = "binomial"
VALUE = "value"


@dataclass(frozen=True)
class Comparison:
    """One treatment against control on one metric."""

    lift: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    adjusted_p_value: float | None = None
    chance_to_win: float | None = None
    risk: float | None = None

    def significant(self, alpha: float) -> bool:
        p = self.adjusted_p_value if self.adjusted_p_value is not None else self.p_value
        return p is not None and p < alpha


def summary(kind: str, n: int, totals: Totals) -> stats.Summary:
    if kind == BINOMIAL:
        return stats.binomial(n, min(totals.converted, n))
    return stats.mean_metric(n, totals.total, totals.squares)


def mean_interval(
    kind: str, n: int, totals: Totals, alpha: float
) -> tuple[float | None, float | None, float | None]:
    """A variant's own rate or mean with its normal interval (the daily chart's band)."""
    if n <= 0:
        return None, None, None
    s = summary(kind, n, totals)
    mean = s.mean
    variance = s.variance
    if mean is None:
        return None, None, None
    if variance is None or not math.isfinite(variance) or variance < 0:
        return mean, None, None
    half = NormalDist().inv_cdf(1 - alpha / 2) * math.sqrt(variance / n)
    return mean, mean - half, mean + half


def compare(
    kind: str,
    control: tuple[int, Totals],
    treatments: Mapping[str, tuple[int, Totals]],
    *,
    alpha: float,
    correction: str,
    sequential_tuning: float | None,
) -> dict[str, Comparison]:
    """Each treatment against control (``stats.compare_all``: both engines, the correction)."""
    results = stats.compare_all(
        summary(kind, *control),
        {name: summary(kind, *inputs) for name, inputs in treatments.items()},
        correction="holm" if correction == "holm" else "none",
        alpha=alpha,
        sequential_tuning=sequential_tuning,
    )
    return {
        name: Comparison(
            lift=r.frequentist.lift,
            ci_low=r.frequentist.ci_low,
            ci_high=r.frequentist.ci_high,
            p_value=r.frequentist.p_value,
            adjusted_p_value=r.p_value_adjusted,
            chance_to_win=r.bayesian.chance_to_win,
            risk=r.bayesian.risk,
        )
        for name, r in results.items()
    }


@dataclass(frozen=True)
class Difference:
    """One group against a baseline group: the absolute difference of their rates (or means)
    with its interval and p-value, and the relative lift with its interval."""

    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    lift: float | None = None
    lift_ci_low: float | None = None
    lift_ci_high: float | None = None


def difference(
    kind: str,
    baseline: tuple[int, Totals],
    other: tuple[int, Totals],
    *,
    alpha: float,
    sequential_tuning: float | None,
) -> Difference:
    """``other`` against ``baseline`` (``stats.frequentist``: Welch's test, delta method)."""
    result = stats.frequentist(
        summary(kind, *baseline),
        summary(kind, *other),
        alpha=alpha,
        sequential_tuning=sequential_tuning,
    )
    return Difference(
        difference=result.difference,
        ci_low=result.difference_ci_low,
        ci_high=result.difference_ci_high,
        p_value=result.difference_p_value,
        lift=result.lift,
        lift_ci_low=result.ci_low,
        lift_ci_high=result.ci_high,
    )


def srm(observed: Sequence[int], weights: Sequence[float]) -> float | None:
    """Chi-square p-value of exposed counts against configured weights (None: untestable)."""
    return stats.srm_p_value(list(observed), list(weights))
