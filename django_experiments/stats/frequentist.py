"""Frequentist test of one variant against control: GrowthBook's two-sided Welch t-test.

Relative lift ``(mean_t - mean_c) / mean_c`` with its delta-method variance, Welch-Satterthwaite
degrees of freedom, and, as an option, gbstats's always-valid (sequential) interval and p-value.
Formulas and references: docs/statistics.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from scipy import special

from django_experiments.stats._checks import check_alpha, check_positive
from django_experiments.stats.summary import Summary

#: gbstats's default ``sequential_tuning_parameter``: the total sample size (both arms) at which
#: the always-valid interval is tightest relative to the fixed-horizon one.
DEFAULT_SEQUENTIAL_TUNING = 5000.0


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided interval and p-value; None where undefined."""

    estimate: float | None
    low: float | None
    high: float | None
    p_value: float | None


@dataclass(frozen=True)
class Frequentist:
    """Treatment against control. Relative fields are fractions: 0.12 means +12 %.

    ``lift``/``ci_low``/``ci_high``/``p_value`` are for the relative lift (None when the control
    mean is 0 or a variance is 0 or unknown); the ``difference*`` fields are the same test on the
    absolute difference ``mean_t - mean_c``.
    """

    lift: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    difference: float | None
    difference_ci_low: float | None
    difference_ci_high: float | None
    difference_p_value: float | None
    df: float | None  # Welch-Satterthwaite degrees of freedom (fixed-horizon test)
    alpha: float
    sequential_tuning: float | None  # None: fixed-horizon t-test

    @property
    def relative(self) -> Interval:
        return Interval(self.lift, self.ci_low, self.ci_high, self.p_value)

    @property
    def absolute(self) -> Interval:
        return Interval(
            self.difference,
            self.difference_ci_low,
            self.difference_ci_high,
            self.difference_p_value,
        )


def _finite(compute: Callable[[], float]) -> float | None:
    """The value, or None where float arithmetic breaks down (x / 0, overflow, underflow to 0).

    Summary statistics from real data are far from these limits; the guard keeps absurd input
    (subnormal means, sums near 1e308) from raising.
    """
    try:
        value = compute()
    except (ZeroDivisionError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def relative_variance(control: Summary, treatment: Summary) -> float | None:
    """Delta-method variance of ``mean_t / mean_c - 1`` (gbstats ``frequentist_variance``)."""
    mc, mt, vc, vt = control.mean, treatment.mean, control.variance, treatment.variance
    if mc is None or mt is None or vc is None or vt is None or mc == 0:
        return None
    return _finite(lambda: vt / (mc**2 * treatment.n) + vc * mt**2 / (mc**4 * control.n))


def absolute_variance(control: Summary, treatment: Summary) -> float | None:
    """Variance of ``mean_t - mean_c``: the unpooled (Welch) standard error squared."""
    vc, vt = control.variance, treatment.variance
    if vc is None or vt is None:
        return None
    return _finite(lambda: vt / treatment.n + vc / control.n)


def welch_df(control: Summary, treatment: Summary) -> float | None:
    """Welch-Satterthwaite degrees of freedom; None when a variance is 0 or unknown."""
    vc, vt = control.variance, treatment.variance
    if vc is None or vt is None or vc <= 0 or vt <= 0 or control.n < 2 or treatment.n < 2:
        return None
    a, b = vc / control.n, vt / treatment.n
    return _finite(lambda: (a + b) ** 2 / (a**2 / (control.n - 1) + b**2 / (treatment.n - 1)))


def fixed_horizon(estimate: float, variance: float, df: float, alpha: float) -> Interval:
    """Two-sided t interval and p-value (gbstats ``TwoSidedTTest``)."""
    se = math.sqrt(variance)
    # scipy.special's Student t functions are what scipy.stats.t calls, without its import
    # cost (about 1 s) and per-call overhead: stdtrit is the quantile, stdtr the CDF.
    half = float(special.stdtrit(df, 1 - alpha / 2)) * se
    p_value = 2 * float(special.stdtr(df, -abs(estimate) / se))
    return Interval(estimate, estimate - half, estimate + half, min(p_value, 1.0))


def always_valid(
    estimate: float, variance: float, n_total: int, alpha: float, tuning: float
) -> Interval:
    """gbstats ``SequentialTwoSidedTTest``: Waudby-Smith et al. (2023) eq. 9, 155 and 161.

    An asymptotic confidence sequence: the interval holds at every sample size at once, so the
    results may be looked at daily without inflating the false-positive rate.
    """
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    s2 = variance * n_total
    tr2p1 = n_total * rho2 + 1
    half = math.sqrt(s2) * math.sqrt(
        2 * tr2p1 * math.log(math.sqrt(tr2p1) / alpha) / (n_total**2 * rho2)
    )
    # log e-value = rho^2 st^2 / (2 (N rho^2 + 1)) - log(sqrt(N rho^2 + 1)); p = min(1, 1/e).
    st2 = estimate**2 * n_total / variance
    log_e = rho2 * st2 / (2 * tr2p1) - 0.5 * math.log(tr2p1)
    p_value = 1.0 if log_e <= 0 else math.exp(-log_e)
    return Interval(estimate, estimate - half, estimate + half, p_value)


def _test(
    estimate: float | None,
    variance: float | None,
    df: float | None,
    n_total: int,
    alpha: float,
    sequential_tuning: float | None,
) -> Interval:
    if estimate is None:
        return Interval(None, None, None, None)
    if variance is None or variance <= 0 or df is None:
        return Interval(estimate, None, None, None)
    try:
        if sequential_tuning is None:
            result = fixed_horizon(estimate, variance, df, alpha)
        else:
            result = always_valid(estimate, variance, n_total, alpha, sequential_tuning)
    except (ZeroDivisionError, OverflowError):
        return Interval(estimate, None, None, None)
    if not all(
        math.isfinite(x) for x in (result.low, result.high, result.p_value) if x is not None
    ):
        return Interval(estimate, None, None, None)
    return result


def frequentist(
    control: Summary,
    treatment: Summary,
    *,
    alpha: float = 0.05,
    sequential_tuning: float | None = None,
) -> Frequentist:
    """Test ``treatment`` against ``control``; never raises on degenerate counts.

    ``sequential_tuning`` switches on sequential testing (gbstats's
    ``sequential_tuning_parameter``, e.g. :data:`DEFAULT_SEQUENTIAL_TUNING`).
    """
    check_alpha(alpha)
    if sequential_tuning is not None:
        check_positive("sequential_tuning", sequential_tuning)
    mc, mt = control.mean, treatment.mean
    df = welch_df(control, treatment)
    n_total = control.n + treatment.n
    lift = _finite(lambda: (mt - mc) / mc) if mc is not None and mt is not None else None
    difference = _finite(lambda: mt - mc) if mc is not None and mt is not None else None
    rel = _test(lift, relative_variance(control, treatment), df, n_total, alpha, sequential_tuning)
    diff = _test(
        difference, absolute_variance(control, treatment), df, n_total, alpha, sequential_tuning
    )
    return Frequentist(
        lift=rel.estimate,
        ci_low=rel.low,
        ci_high=rel.high,
        p_value=rel.p_value,
        difference=diff.estimate,
        difference_ci_low=diff.low,
        difference_ci_high=diff.high,
        difference_p_value=diff.p_value,
        df=df,
        alpha=alpha,
        sequential_tuning=sequential_tuning,
    )
