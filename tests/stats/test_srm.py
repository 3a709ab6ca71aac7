"""SRM: chi-square of exposed counts against configured weights, zero weights handled sanely."""

from __future__ import annotations

import math

import pytest
from scipy.stats import chisquare

from django_experiments.stats import SRM_THRESHOLD, srm_p_value


def test_exact_split_has_p_one() -> None:
    assert srm_p_value([500, 500], [50, 50]) == pytest.approx(1.0)
    assert srm_p_value([250, 750], [1, 3]) == pytest.approx(1.0)


def test_weights_are_normalised_and_match_scipy() -> None:
    observed = [4900, 5150, 9950]
    expected = chisquare(observed, [5000, 5000, 10_000]).pvalue
    assert srm_p_value(observed, [25, 25, 50]) == pytest.approx(expected, abs=1e-12)
    assert srm_p_value(observed, [0.25, 0.25, 0.5]) == pytest.approx(expected, abs=1e-12)


def test_broken_split_is_flagged() -> None:
    p = srm_p_value([5000, 5400], [50, 50])
    assert p is not None and p < SRM_THRESHOLD


def test_zero_weight_variant_without_contexts_drops_out() -> None:
    """A variant switched off in this phase: the test runs on the others, with fewer df."""
    with_zero = srm_p_value([480, 0, 520], [50, 0, 50])
    expected = chisquare([480, 520], [500, 500]).pvalue
    assert with_zero == pytest.approx(expected, abs=1e-12)


def test_contexts_in_a_zero_weight_variant_are_a_certain_mismatch() -> None:
    assert srm_p_value([500, 3, 500], [50, 0, 50]) == 0.0


@pytest.mark.parametrize(
    ("observed", "weights"),
    [
        ([0, 0], [50, 50]),  # nobody exposed yet
        ([100], [100]),  # one variant: nothing to compare
        ([100, 0], [100, 0]),  # one variant with weight
        ([], []),
    ],
)
def test_no_possible_test_gives_none(observed: list[int], weights: list[float]) -> None:
    assert srm_p_value(observed, weights) is None


@pytest.mark.parametrize(
    ("observed", "weights", "message"),
    [
        ([1, 2], [1.0], "2 counts for 1 weights"),
        ([1, -2], [1.0, 1.0], "observed counts"),
        ([1, 2], [1.0, -1.0], "weights"),
        ([1, 2], [1.0, math.nan], "weights"),
        ([1, 2], [1.0, math.inf], "weights"),
    ],
)
def test_invalid_input_is_refused(observed: list[int], weights: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        srm_p_value(observed, weights)
