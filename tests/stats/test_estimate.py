"""Per-variant intervals: Wilson for rates (statsmodels), Student t for means (scipy)."""

from __future__ import annotations

import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint

from django_experiments.stats import binomial, mean_interval, mean_metric
from tests.stats.cases import CASES, Case, values

BINOMIALS = [(0, 1), (0, 10), (10, 10), (1, 3), (37, 200), (5000, 100_000), (999_999, 10**6)]


@pytest.mark.parametrize(("converted", "n"), BINOMIALS)
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
def test_rate_interval_is_statsmodels_wilson(converted: int, n: int, alpha: float) -> None:
    interval = mean_interval(binomial(n, converted), alpha=alpha)
    low, high = proportion_confint(converted, n, alpha=alpha, method="wilson")
    assert interval.estimate == converted / n
    assert interval.low == pytest.approx(low, abs=1e-12)
    assert interval.high == pytest.approx(high, abs=1e-12)
    assert interval.p_value is None


def test_zero_and_full_conversion_keep_a_real_interval() -> None:
    zero, full = mean_interval(binomial(10, 0)), mean_interval(binomial(10, 10))
    assert zero.low == 0.0 and zero.high is not None and 0.2 < zero.high < 0.35
    assert full.high == pytest.approx(1.0) and full.low is not None and 0.65 < full.low < 0.8


@pytest.mark.parametrize("case", [c for c in CASES if c.raw], ids=lambda c: c.id)
def test_mean_interval_is_scipy_t_interval(case: Case) -> None:
    for name, xs in case.raw.items():
        interval = mean_interval(values(xs))
        if len(xs) < 2 or len(set(xs)) == 1:
            if len(xs) >= 2:  # constant values: a zero-width interval at the mean
                assert interval.low == interval.high == interval.estimate
            continue
        mean, sem = sum(xs) / len(xs), scipy_stats.sem(xs)
        low, high = scipy_stats.t.interval(0.95, len(xs) - 1, loc=mean, scale=sem)
        assert interval.low == pytest.approx(low, abs=1e-9), name
        assert interval.high == pytest.approx(high, abs=1e-9), name


def test_undefined_intervals() -> None:
    assert mean_interval(binomial(0, 0)).estimate is None
    assert mean_interval(mean_metric(0, 0.0, 0.0)).low is None
    one = mean_interval(values([3.0]))
    assert one.estimate == 3.0 and one.low is None and one.high is None
    with pytest.raises(ValueError, match="alpha"):
        mean_interval(binomial(10, 1), alpha=0)
