"""Bayesian test of one variant against control: GrowthBook's effect model on relative lift.

The relative lift's sampling distribution (delta method, as in the frequentist test) is the
likelihood; with the default flat prior the posterior is ``Normal(lift, se^2)``. A proper Gaussian
prior on the relative lift shrinks it (gbstats ``EffectBayesianABTest``, ``prior_type="relative"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as distributions

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
    density = float(distributions.norm.pdf(z))
    treatment = sd * density - mean * float(distributions.norm.cdf(-z))
    control = sd * density + mean * float(distributions.norm.cdf(z))
    return max(0.0, treatment), max(0.0, control)


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
    variance = relative_variance(control, treatment)
    undefined = Bayesian(None, None, None, None, None, None, alpha)
    if variance is None or variance <= 0:
        return undefined
    mc, mt = control.mean, treatment.mean
    assert mc is not None and mt is not None  # relative_variance returned a number
    lift = (mt - mc) / mc
    if prior is None:
        mean, sd = lift, math.sqrt(variance)
    else:
        precision = 1 / variance + 1 / prior.stddev**2
        mean = (lift / variance + prior.mean / prior.stddev**2) / precision
        sd = math.sqrt(1 / precision)
    low = float(distributions.norm.ppf(alpha / 2, mean, sd))
    high = float(distributions.norm.ppf(1 - alpha / 2, mean, sd))
    chance = float(distributions.norm.sf(0, mean, sd))
    risk, risk_control = expected_losses(mean, sd)
    if inverse:
        chance, risk, risk_control = 1 - chance, risk_control, risk
    return Bayesian(mean, low, high, chance, risk, risk_control, alpha)
