"""Frequentist test: degenerate input gives None, never an exception; sequential peeking is safe."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_experiments.stats import (
    DEFAULT_SEQUENTIAL_TUNING,
    Frequentist,
    Summary,
    binomial,
    frequentist,
    mean_metric,
)
from tests.stats.cases import values
from tests.stats.strategies import binomials


def _all_none(result: Frequentist) -> bool:
    return all(
        v is None
        for v in (result.lift, result.ci_low, result.ci_high, result.p_value, result.difference)
    )


def test_typical_binomial_result() -> None:
    result = frequentist(binomial(1000, 100), binomial(1200, 150))
    assert result.lift == pytest.approx(0.25)
    assert result.difference == pytest.approx(0.025)
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low < 0 < result.ci_high  # +25 % on 100 conversions is not conclusive
    assert 0.05 < (result.p_value or 0) < 0.2
    assert result.sequential_tuning is None and result.alpha == 0.05


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        (binomial(0, 0), binomial(100, 10)),
        (binomial(100, 10), binomial(0, 0)),
        (binomial(0, 0), binomial(0, 0)),
        (mean_metric(0, 0.0, 0.0), values([1.0, 2.0])),
    ],
)
def test_no_contexts_gives_all_none(control: Summary, treatment: Summary) -> None:
    assert _all_none(frequentist(control, treatment))
    assert _all_none(frequentist(control, treatment, sequential_tuning=5000))


@pytest.mark.parametrize(
    ("control", "treatment", "lift"),
    [
        (binomial(1, 1), binomial(1, 0), -1.0),  # n = 1
        (values([4.0]), values([5.0, 7.0]), 0.5),  # n = 1, value metric
        (binomial(50, 50), binomial(50, 45), -0.1),  # 100 % conversion in control
        (binomial(1000, 5), binomial(1000, 0), -1.0),  # zero conversions in treatment
        (values([2.0] * 10), values([2.0] * 12), 0.0),  # zero variance in both
    ],
)
def test_zero_or_unknown_variance_gives_the_lift_without_a_test(
    control: Summary, treatment: Summary, lift: float
) -> None:
    result = frequentist(control, treatment)
    assert result.lift == pytest.approx(lift)
    assert result.ci_low is result.ci_high is result.p_value is None
    assert result.difference_p_value is None and result.df is None


def test_zero_control_mean_gives_no_relative_lift_but_an_absolute_difference() -> None:
    control = values([0.0] * 28 + [1.0, -1.0])  # mean 0, variance > 0
    treatment = values([0.0] * 25 + [2.0, 1.0, 3.0, 0.5, 1.5])
    result = frequentist(control, treatment)
    assert result.lift is result.ci_low is result.p_value is None
    assert result.difference == pytest.approx(0.8 / 3)
    assert result.difference_p_value is not None and 0 < result.difference_p_value < 1
    low, high = result.difference_ci_low, result.difference_ci_high
    assert low is not None and high is not None
    assert low < 0.8 / 3 < high


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, math.nan])
def test_alpha_outside_zero_one_is_refused(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        frequentist(binomial(10, 1), binomial(10, 2), alpha=alpha)


@pytest.mark.parametrize("tuning", [0, -5, math.inf, math.nan])
def test_sequential_tuning_must_be_positive(tuning: float) -> None:
    with pytest.raises(ValueError, match="sequential_tuning"):
        frequentist(binomial(10, 1), binomial(10, 2), sequential_tuning=tuning)


def test_always_valid_interval_is_wider_than_fixed_horizon() -> None:
    control, treatment = binomial(20_000, 2000), binomial(20_000, 2150)
    fixed = frequentist(control, treatment)
    sequential = frequentist(control, treatment, sequential_tuning=DEFAULT_SEQUENTIAL_TUNING)
    assert sequential.lift == fixed.lift
    assert sequential.ci_low is not None and fixed.ci_low is not None
    assert sequential.ci_low < fixed.ci_low and (sequential.ci_high or 0) > (fixed.ci_high or 0)
    assert (sequential.p_value or 0) > (fixed.p_value or 0)


summaries = st.one_of(
    binomials(),
    st.lists(st.floats(-1e4, 1e4, allow_nan=False), max_size=40).map(values),
)


@settings(max_examples=300, deadline=None)
@given(summaries, summaries, st.sampled_from([None, 100.0, 5000.0]))
def test_never_raises_and_stays_coherent(
    control: Summary, treatment: Summary, tuning: float | None
) -> None:
    result = frequentist(control, treatment, sequential_tuning=tuning)
    for estimate, low, high, p in (
        (result.lift, result.ci_low, result.ci_high, result.p_value),
        (
            result.difference,
            result.difference_ci_low,
            result.difference_ci_high,
            result.difference_p_value,
        ),
    ):
        if p is None:
            assert low is None and high is None
            continue
        assert estimate is not None and low is not None and high is not None
        assert 0 <= p <= 1
        assert low <= estimate <= high
        # the interval excludes 0 exactly when the test is significant (up to rounding)
        if abs(p - result.alpha) > 1e-9 and min(abs(low), abs(high)) > 1e-9 * abs(estimate):
            assert (low > 0 or high < 0) == (p < result.alpha)


def _false_positive_rate(tuning: float | None, *, experiments: int, looks: int) -> float:
    """A/A experiments looked at ``looks`` times; the share ever declared significant."""
    rng = random.Random(20261202)
    rate, per_look = 0.1, 400
    hits = 0
    for _ in range(experiments):
        n = xc = xt = 0
        for _ in range(looks):
            n += per_look
            xc += sum(rng.random() < rate for _ in range(per_look))
            xt += sum(rng.random() < rate for _ in range(per_look))
            p = frequentist(binomial(n, xc), binomial(n, xt), sequential_tuning=tuning).p_value
            if p is not None and p < 0.05:
                hits += 1
                break
    return hits / experiments


def test_peeking_daily_is_safe_only_with_sequential_testing() -> None:
    """The reason for the option: 10 looks at a fixed-horizon test inflate false positives."""
    fixed = _false_positive_rate(None, experiments=300, looks=10)
    sequential = _false_positive_rate(DEFAULT_SEQUENTIAL_TUNING, experiments=300, looks=10)
    assert fixed > 0.1  # about 0.19 for 10 looks, well above the nominal 0.05
    assert sequential <= 0.05


@pytest.mark.parametrize("tuning", [None, 5000.0])
def test_absurd_magnitudes_give_none_not_an_overflow(tuning: float | None) -> None:
    control = mean_metric(4, 4e-200, 1e-300)
    treatment = mean_metric(4, 4e200, 1e300)
    result = frequentist(control, treatment, sequential_tuning=tuning)
    assert result.p_value is None and result.ci_low is None
