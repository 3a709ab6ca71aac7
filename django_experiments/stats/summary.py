"""Summary statistics of one metric in one variant: the only input the tests need."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Literal

MetricKind = Literal["binomial", "mean"]


@dataclass(frozen=True)
class Summary:
    """One variant's metric as n, sum and sum of squares of the per-context values.

    ``kind`` decides the variance, as GrowthBook's gbstats defines it: a binomial metric
    (``ProportionStatistic``) uses ``p (1 - p)``; a mean metric (``SampleMeanStatistic``) uses
    the sample variance with ``n - 1`` in the denominator.
    """

    n: int
    total: float
    total_squares: float
    kind: MetricKind = "mean"

    def __post_init__(self) -> None:
        # Database sums arrive as Decimal (PostgreSQL numeric) or int: store floats, so every
        # later step is float arithmetic. n must be a whole number (int, numpy integer...).
        try:
            object.__setattr__(self, "n", operator.index(self.n))
        except TypeError:
            raise ValueError(f"n must be an integer, got {self.n!r}") from None
        try:
            object.__setattr__(self, "total", float(self.total))
            object.__setattr__(self, "total_squares", float(self.total_squares))
        except (TypeError, ValueError):
            raise ValueError("total and total_squares must be numbers") from None
        if self.kind not in ("binomial", "mean"):
            raise ValueError(f"kind must be 'binomial' or 'mean', got {self.kind!r}")
        if self.n < 0:
            raise ValueError(f"n must be >= 0, got {self.n}")
        if not (math.isfinite(self.total) and math.isfinite(self.total_squares)):
            raise ValueError("total and total_squares must be finite numbers")
        if self.kind == "binomial" and not 0 <= self.total <= self.n:
            raise ValueError(f"converted must be between 0 and n={self.n}, got {self.total}")
        if self.total_squares < 0:
            raise ValueError(f"total_squares must be >= 0, got {self.total_squares}")

    @property
    def mean(self) -> float | None:
        """The conversion rate or mean value; None with no contexts."""
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """Per-context variance; None when it cannot be estimated (n = 0, or n = 1 for means)."""
        if self.kind == "binomial":
            if not self.n:
                return None
            rate = self.total / self.n
            return rate * (1 - rate)
        if self.n < 2:
            return None
        try:  # the same expression as gbstats, so both agree on which variances are zero
            variance = (self.total_squares - self.total**2 / self.n) / (self.n - 1)
        except OverflowError:
            return None  # a sum beyond 1e154: not a real metric
        # Clamped: with constant values rounding can leave a tiny negative number.
        return max(0.0, variance) if math.isfinite(variance) else None


def binomial(n: int, converted: int) -> Summary:
    """A conversion metric: ``converted`` of ``n`` exposed contexts (each value is 0 or 1)."""
    return Summary(n=n, total=converted, total_squares=converted, kind="binomial")


def mean_metric(n: int, total: float, total_squares: float) -> Summary:
    """A value metric: per-context values summed, and their squares summed, over ``n`` contexts."""
    return Summary(n=n, total=total, total_squares=total_squares, kind="mean")
