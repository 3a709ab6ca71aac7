"""Pure statistics for experiment results, on summary statistics (n, sum, sum of squares).

No Django here: every function takes :class:`Summary` values and returns frozen dataclasses.
The definitions follow GrowthBook's stats engine (gbstats) and are checked against it, scipy and
statsmodels in tests/stats; docs/statistics.md explains each method.
"""

from __future__ import annotations

from django_experiments.stats.bayesian import Bayesian, GaussianPrior, bayesian
from django_experiments.stats.compare import Comparison, compare_all
from django_experiments.stats.correction import Correction, bonferroni, holm
from django_experiments.stats.estimate import mean_interval
from django_experiments.stats.frequentist import (
    DEFAULT_SEQUENTIAL_TUNING,
    Frequentist,
    Interval,
    frequentist,
)
from django_experiments.stats.srm import SRM_THRESHOLD, srm_p_value
from django_experiments.stats.summary import MetricKind, Summary, binomial, mean_metric

__all__ = [
    "DEFAULT_SEQUENTIAL_TUNING",
    "SRM_THRESHOLD",
    "Bayesian",
    "Comparison",
    "Correction",
    "Frequentist",
    "GaussianPrior",
    "Interval",
    "MetricKind",
    "Summary",
    "bayesian",
    "binomial",
    "bonferroni",
    "compare_all",
    "frequentist",
    "holm",
    "mean_interval",
    "mean_metric",
    "srm_p_value",
]
