"""Bayesian test: chance to win, expected losses, priors, inverse metrics, degenerate input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_experiments.stats import (
    GaussianPrior,
    Summary,
    bayesian,
    binomial,
    frequentist,
    mean_metric,
)
from tests.stats.cases import values
from tests.stats.strategies import binomials


def test_flat_prior_posterior_is_the_frequentist_estimate() -> None:
    control, treatment = binomial(1000, 100), binomial(1200, 150)
    result = bayesian(control, treatment)
    fixed = frequentist(control, treatment)
    assert result.lift == fixed.lift
    assert result.chance_to_win == pytest.approx(0.9497, abs=1e-4)
    # P(win) + P(lose) = 1 and E[lift] = loss of keeping control - loss of shipping treatment
    assert result.risk_control is not None and result.risk is not None
    assert result.risk_control - result.risk == pytest.approx(result.lift)
    assert result.risk < result.risk_control


def test_proper_prior_shrinks_towards_its_mean() -> None:
    control, treatment = binomial(200, 20), binomial(200, 30)
    flat = bayesian(control, treatment)
    shrunk = bayesian(control, treatment, prior=GaussianPrior(0.0, 0.1))
    assert flat.lift is not None and shrunk.lift is not None
    assert 0 < shrunk.lift < flat.lift
    assert (shrunk.ci_high or 0) - (shrunk.ci_low or 0) < (flat.ci_high or 0) - (flat.ci_low or 0)


def test_inverse_metric_wins_with_a_negative_lift() -> None:
    control, treatment = values([3.0, 4.0, 5.0, 4.5] * 20), values([2.0, 3.0, 3.5, 2.5] * 20)
    normal = bayesian(control, treatment)
    inverse = bayesian(control, treatment, inverse=True)
    assert normal.chance_to_win is not None and inverse.chance_to_win is not None
    assert normal.chance_to_win < 0.01 and inverse.chance_to_win > 0.99
    assert inverse.risk == normal.risk_control and inverse.risk_control == normal.risk


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        (binomial(0, 0), binomial(10, 1)),
        (binomial(10, 1), binomial(0, 0)),
        (binomial(1, 0), binomial(1, 1)),
        (binomial(100, 0), binomial(100, 3)),  # control mean 0
        (binomial(100, 3), binomial(100, 0)),  # zero variance in treatment
        (binomial(40, 40), binomial(40, 39)),  # 100 % conversion
        (values([1.0]), values([1.0, 2.0])),
        (values([2.0] * 5), values([2.0] * 5)),
    ],
)
def test_degenerate_inputs_give_none(control: Summary, treatment: Summary) -> None:
    result = bayesian(control, treatment)
    assert result.chance_to_win is result.risk is result.risk_control is result.lift is None


def test_bad_prior_and_alpha_are_refused() -> None:
    with pytest.raises(ValueError, match="prior stddev"):
        GaussianPrior(0.0, 0.0)
    with pytest.raises(ValueError, match="prior mean"):
        GaussianPrior(math.inf, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        bayesian(binomial(10, 1), binomial(10, 2), alpha=2)


summaries = st.one_of(
    binomials(100_000),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=30).map(values),
)


@settings(max_examples=300, deadline=None)
@given(summaries, summaries, st.sampled_from([None, GaussianPrior(0.0, 0.1)]), st.booleans())
def test_never_raises_and_gives_probabilities(
    control: Summary, treatment: Summary, prior: GaussianPrior | None, inverse: bool
) -> None:
    result = bayesian(control, treatment, prior=prior, inverse=inverse)
    if result.chance_to_win is None:
        assert result.risk is None and result.lift is None
        return
    assert 0 <= result.chance_to_win <= 1
    assert result.risk is not None and result.risk >= 0
    assert result.risk_control is not None and result.risk_control >= 0
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low <= (result.lift or 0) <= result.ci_high or result.lift is None


def test_absurd_magnitudes_give_none_not_an_overflow() -> None:
    for control, treatment in (
        (mean_metric(4, 4e-200, 1e-300), mean_metric(4, 4e200, 1e300)),
        (mean_metric(4, 4e200, 1e300), mean_metric(4, 4e-200, 1e-300)),
    ):
        result = bayesian(control, treatment, prior=GaussianPrior(0.0, 0.1))
        assert result.chance_to_win is None and result.risk is None
