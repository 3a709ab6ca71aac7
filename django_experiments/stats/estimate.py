"""One variant's own rate or mean with its interval: what a per-variant chart draws."""

from __future__ import annotations

import math

from scipy import special

from django_experiments.stats._checks import check_alpha
from django_experiments.stats.frequentist import Interval
from django_experiments.stats.summary import Summary


def mean_interval(summary: Summary, *, alpha: float = 0.05) -> Interval:
    """The rate or mean with a two-sided ``1 - alpha`` interval; ``p_value`` is always None.

    Binomial: the Wilson score interval, which stays inside [0, 1] and is sensible at 0 % and
    100 % and for tiny n (the normal-approximation interval collapses to a point there). Value
    metric: the Student t interval ``mean ± t_{1-α/2, n-1} s / √n``. Bounds are None when they
    cannot be computed (n = 0; n = 1 for a value metric).
    """
    check_alpha(alpha)
    mean, variance, n = summary.mean, summary.variance, summary.n
    if mean is None:
        return Interval(None, None, None, None)
    if summary.kind == "binomial":
        z = float(special.ndtri(1 - alpha / 2))
        denominator = 1 + z * z / n
        centre = (mean + z * z / (2 * n)) / denominator
        half = z * math.sqrt(mean * (1 - mean) / n + z * z / (4 * n * n)) / denominator
        return Interval(mean, max(0.0, centre - half), min(1.0, centre + half), None)
    if variance is None:
        return Interval(mean, None, None, None)
    half = float(special.stdtrit(n - 1, 1 - alpha / 2)) * math.sqrt(variance / n)
    if not math.isfinite(half):
        return Interval(mean, None, None, None)
    return Interval(mean, mean - half, mean + half, None)
