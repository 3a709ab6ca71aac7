"""Bayesian test of one variant against control: GrowthBook's effect model on relative lift.

The relative lift's sampling distribution (delta method, as in the frequentist test) is the
likelihood; with the default flat prior the posterior is ``Normal(lift, se^2)``. A proper Gaussian
prior on the relative lift shrinks it (gbstats ``EffectBayesianABTest``, ``prior_type="relative"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special

from django_experiments.stats._checks import check_alpha, check_positive
from django_experiments.stats.frequentist import relative_variance
from django_experiments.stats.summary import Summary


@dataclass(frozen=True)
class GaussianPrior:
    """A proper prior on the relative lift: ``Normal(mean, stddev^2)`` (gbstats: 0 and 0.1)."""

    mean: float = 0.0
    stddev: float = 0.1

    def __post_init__(self) -> None:
        if not math.isfinite(self.mean):
            raise ValueError(f"prior mean must be finite, got {self.mean!r}")
        check_positive("prior stddev", self.stddev)


@dataclass(frozen=True)
class Bayesian:
    """Posterior of the relative lift; every field None when it is undefined.

    ``risk`` is the expected loss (relative) of shipping the treatment: the lift lost if it is
    really worse. ``risk_control`` is the expected loss of keeping control.
    """

    lift: float | None  # posterior mean
    ci_low: float | None  # equal-tailed credible interval
    ci_high: float | None
    chance_to_win: float | None
    risk: float | None
    risk_control: float | None
    alpha: float


def expected_losses(mean: float, sd: float) -> tuple[float, float]:
    """(loss of choosing treatment, loss of choosing control) for lift ~ Normal(mean, sd^2).

    ``E[max(0, -X)] = sd phi(z) - mean Phi(-z)`` and ``E[max(0, X)] = sd phi(z) + mean Phi(z)``
    with ``z = mean / sd``: closed forms equal to gbstats's truncated-normal products, without
    dividing by a vanishing probability when ``|z|`` is large.
    """
    z = mean / sd
    density = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    treatment = sd * density - mean * float(special.ndtr(-z))
    control = sd * density + mean * float(special.ndtr(z))
    return max(0.0, treatment), max(0.0, control)


def _posterior(lift: float, variance: float, prior: GaussianPrior | None) -> tuple[float, float]:
    """Posterior mean and sd of the relative lift: Normal likelihood, flat or Gaussian prior."""
    if prior is None:
        return lift, math.sqrt(variance)
    precision = 1 / variance + 1 / prior.stddev**2
    return (lift / variance + prior.mean / prior.stddev**2) / precision, math.sqrt(1 / precision)


def bayesian(
    control: Summary,
    treatment: Summary,
    *,
    alpha: float = 0.05,
    prior: GaussianPrior | None = None,
    inverse: bool = False,
) -> Bayesian:
    """Chance to beat control and expected losses; never raises on degenerate counts.

    ``inverse`` is for metrics where lower is better: winning means a negative lift.
    """
    check_alpha(alpha)
    undefined = Bayesian(None, None, None, None, None, None, alpha)
    variance = relative_variance(control, treatment)
    if variance is None or not (control.variance and treatment.variance):
        # As gbstats: a zero variance in either arm (0 % or 100 % conversion, constant values)
        # says the sample is too small to estimate it, not that the lift is certain.
        return undefined
    mc, mt = control.mean, treatment.mean
    assert mc is not None and mt is not None  # relative_variance returned a number
    try:
        mean, sd = _posterior((mt - mc) / mc, variance, prior)
        # Normal quantile and CDF from scipy.special (ndtri, ndtr), as scipy.stats.norm uses.
        low = mean + sd * float(special.ndtri(alpha / 2))
        high = mean + sd * float(special.ndtri(1 - alpha / 2))
        chance = float(special.ndtr(mean / sd))
        risk, risk_control = expected_losses(mean, sd)
    except (ZeroDivisionError, OverflowError):
        return undefined  # absurd magnitudes (sums near 1e308, subnormal means)
    if sd <= 0 or not all(map(math.isfinite, (mean, sd, low, high, chance, risk, risk_control))):
        return undefined
    if inverse:
        chance, risk, risk_control = 1 - chance, risk_control, risk
    return Bayesian(mean, low, high, chance, risk, risk_control, alpha)
