"""Summary: mean and variance as gbstats defines them per metric kind; bad input is refused."""

from __future__ import annotations

import math
import statistics

import pytest

from django_experiments.stats import Summary, binomial, frequentist, mean_metric
from tests.stats.cases import values


def test_binomial_variance_is_p_times_one_minus_p() -> None:
    s = binomial(200, 50)
    assert s.total_squares == 50 and s.kind == "binomial"
    assert s.mean == 0.25
    assert s.variance == pytest.approx(0.25 * 0.75)


def test_mean_metric_uses_the_sample_variance() -> None:
    xs = [3.0, 0.0, 12.5, 7.25, 0.0]
    s = values(xs)
    assert s.mean == pytest.approx(statistics.fmean(xs))
    assert s.variance == pytest.approx(statistics.variance(xs))


@pytest.mark.parametrize(
    ("summary", "mean", "variance"),
    [
        (binomial(0, 0), None, None),
        (binomial(1, 1), 1.0, 0.0),
        (mean_metric(0, 0.0, 0.0), None, None),
        (mean_metric(1, 4.0, 16.0), 4.0, None),
        (values([2.0] * 5), 2.0, 0.0),
    ],
)
def test_degenerate_summaries(summary: Summary, mean: float | None, variance: float | None) -> None:
    assert summary.mean == mean
    assert summary.variance == variance


def test_constant_values_never_give_a_negative_variance() -> None:
    # 0.1 is not exact in binary: sum of squares minus total^2 / n rounds below zero.
    s = values([0.1] * 3)
    assert s.variance is not None and s.variance >= 0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: binomial(-1, 0), "n must be >= 0"),
        (lambda: binomial(10, 11), "converted must be between 0 and n"),
        (lambda: binomial(10, -1), "converted must be between 0 and n"),
        (lambda: mean_metric(3, math.nan, 1.0), "finite"),
        (lambda: mean_metric(3, 1.0, math.inf), "finite"),
        (lambda: mean_metric(3, 1.0, -1.0), "total_squares must be >= 0"),
        (lambda: Summary(3, 1.0, 1.0, kind="ratio"), "kind must be"),  # type: ignore[arg-type]
    ],
)
def test_invalid_summaries_raise_a_clear_error(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_database_numbers_become_floats() -> None:
    """PostgreSQL returns SUM over numeric as Decimal; numpy counts are not int."""
    from decimal import Decimal

    import numpy as np

    s = mean_metric(np.int64(3), Decimal("6.5"), Decimal("17.25"))  # type: ignore[arg-type]
    assert type(s.n) is int and type(s.total) is float and type(s.total_squares) is float
    assert s.mean == pytest.approx(6.5 / 3)
    assert frequentist(s, values([1.0, 2.0, 4.0])).p_value is not None


@pytest.mark.parametrize(("n", "total"), [(2.5, 1.0), ("3", 1.0), (3, None), (3, "many")])
def test_non_numbers_are_refused(n: object, total: object) -> None:
    with pytest.raises(ValueError, match="must be"):
        mean_metric(n, total, 1.0)  # type: ignore[arg-type]
