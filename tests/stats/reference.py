"""Our statistics next to the reference libraries', quantity by quantity, on tests/stats/cases.py.

The tests assert on these rows; ``python -m tests.stats.reference`` prints the largest absolute
difference per reference and quantity (the figures quoted in docs/statistics.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from gbstats.utils import check_srm
from scipy import integrate
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from django_experiments import stats
from django_experiments.stats import Summary
from tests.stats.cases import ALPHAS, CASES, PAIRS, SEQUENTIAL_TUNINGS

#: Tolerances the issue sets: 1e-6 for frequentist and sequential, 1e-3 for Bayesian.
TOLERANCE = {"gbstats-bayesian": 1e-3}
DEFAULT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Row:
    reference: str  # e.g. "gbstats-frequentist"
    quantity: str  # e.g. "p_value"
    case: str
    ours: float | None
    theirs: float | None  # None: the reference calls it undefined (error message, NaN)

    @property
    def tolerance(self) -> float:
        return TOLERANCE.get(self.reference, DEFAULT_TOLERANCE)

    @property
    def difference(self) -> float | None:
        if self.ours is None or self.theirs is None:
            return None
        return abs(self.ours - self.theirs)

    @property
    def agrees(self) -> bool:
        if self.ours is None or self.theirs is None:
            return self.ours is None and self.theirs is None
        return abs(self.ours - self.theirs) <= self.tolerance


def gb_statistic(s: Summary) -> ProportionStatistic | SampleMeanStatistic:
    if s.kind == "binomial":
        return ProportionStatistic(n=s.n, sum=s.total)
    return SampleMeanStatistic(n=s.n, sum=s.total, sum_squares=s.total_squares)


def _number(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _rows(reference: str, case: str, pairs: dict[str, tuple[Any, Any]]) -> Iterator[Row]:
    for quantity, (ours, theirs) in pairs.items():
        yield Row(reference, quantity, case, ours, None if theirs is None else _number(theirs))


def frequentist_rows() -> Iterator[Row]:
    """gbstats TwoSidedTTest / SequentialTwoSidedTTest, relative and absolute."""
    for case, control, treatment in PAIRS:
        for alpha in ALPHAS:
            for tuning in (None, *SEQUENTIAL_TUNINGS):
                ours = stats.frequentist(control, treatment, alpha=alpha, sequential_tuning=tuning)
                for difference_type in ("relative", "absolute"):
                    if tuning is None:
                        config: FrequentistConfig = FrequentistConfig(
                            alpha=alpha, difference_type=difference_type
                        )
                        test: Any = TwoSidedTTest
                        reference = "gbstats-frequentist"
                    else:
                        config = SequentialConfig(
                            alpha=alpha,
                            difference_type=difference_type,
                            sequential_tuning_parameter=tuning,
                        )
                        test = SequentialTwoSidedTTest
                        reference = "gbstats-sequential"
                    theirs = test(gb_statistic(control), gb_statistic(treatment), config)
                    result = theirs.compute_result()
                    mine = ours.relative if difference_type == "relative" else ours.absolute
                    if difference_type == "absolute" and control.mean == 0:
                        continue  # gbstats refuses any test on a zero control mean
                    defined = result.error_message is None
                    label = f"{case} alpha={alpha} tuning={tuning}"
                    yield from _rows(
                        reference,
                        label,
                        {
                            f"{difference_type} ci_low": (
                                mine.low,
                                result.ci[0] if defined else None,
                            ),
                            f"{difference_type} ci_high": (
                                mine.high,
                                result.ci[1] if defined else None,
                            ),
                            f"{difference_type} p_value": (
                                mine.p_value,
                                result.p_value if defined else None,
                            ),
                        },
                    )
                    if defined:  # gbstats gives 0 for an undefined estimate; we give None
                        yield from _rows(
                            reference,
                            label,
                            {f"{difference_type} estimate": (mine.estimate, result.expected)},
                        )


def welch_rows() -> Iterator[Row]:
    """scipy's Welch t-test on the absolute difference: from summary stats, and from raw values."""
    for case, control, treatment in PAIRS:
        ours = stats.frequentist(control, treatment)
        vc, vt = control.variance, treatment.variance
        if control.n and treatment.n and vc is not None and vt is not None and vc > 0 and vt > 0:
            result = scipy_stats.ttest_ind_from_stats(
                treatment.total / treatment.n, math.sqrt(vt), treatment.n,
                control.total / control.n, math.sqrt(vc), control.n,
                equal_var=False,
            )  # fmt: skip
            expected: float | None = float(result.pvalue)
        else:
            expected = None  # scipy gives NaN, or divides by zero
        yield Row("scipy-welch", "difference_p_value", case, ours.difference_p_value, expected)
    for case_ in CASES:
        if not case_.raw:
            continue
        for name, treatment in case_.treatments.items():
            ours = stats.frequentist(case_.control, treatment)
            c, t = case_.raw["control"], case_.raw[name]
            label = f"{case_.id}/{name}"
            if ours.difference_p_value is None:
                yield Row("scipy-welch-raw", "defined", label, None, None)
                continue
            raw = scipy_stats.ttest_ind(t, c, equal_var=False)
            ci = raw.confidence_interval(0.95)
            yield from _rows(
                "scipy-welch-raw",
                label,
                {
                    "difference_p_value": (ours.difference_p_value, raw.pvalue),
                    "df": (ours.df, raw.df),
                    "difference_ci_low": (ours.difference_ci_low, ci.low),
                    "difference_ci_high": (ours.difference_ci_high, ci.high),
                    "difference": (ours.difference, sum(t) / len(t) - sum(c) / len(c)),
                },
            )


def bayesian_rows() -> Iterator[Row]:
    """gbstats EffectBayesianABTest (relative), flat and proper priors, normal and inverse."""
    priors: list[stats.GaussianPrior | None] = [
        None,
        stats.GaussianPrior(0.0, 0.1),
        stats.GaussianPrior(0.05, 0.3),
    ]
    for case, control, treatment in PAIRS:
        for prior in priors:
            for inverse in (False, True):
                ours = stats.bayesian(control, treatment, prior=prior, inverse=inverse)
                gb_prior = (
                    GaussianPrior(proper=False)
                    if prior is None
                    else GaussianPrior(mean=prior.mean, variance=prior.stddev**2, proper=True)
                )
                config = EffectBayesianConfig(
                    inverse=inverse, prior_effect=gb_prior, prior_type="relative"
                )
                result = EffectBayesianABTest(
                    gb_statistic(control), gb_statistic(treatment), config
                ).compute_result()
                defined = result.error_message is None
                label = f"{case} prior={prior} inverse={inverse}"
                # gbstats risk is [loss of keeping control, loss of shipping the treatment]
                yield from _rows(
                    "gbstats-bayesian",
                    label,
                    {
                        "chance_to_win": (
                            ours.chance_to_win,
                            result.chance_to_win if defined else None,
                        ),
                        "risk": (ours.risk, result.risk[1] if defined else None),
                        "risk_control": (ours.risk_control, result.risk[0] if defined else None),
                        "lift": (ours.lift, result.expected if defined else None),
                        "ci_low": (ours.ci_low, result.ci[0] if defined else None),
                        "ci_high": (ours.ci_high, result.ci[1] if defined else None),
                    },
                )


def risk_integral_rows() -> Iterator[Row]:
    """The closed-form expected losses against numerical integration of the posterior."""
    for case, control, treatment in PAIRS:
        ours = stats.bayesian(control, treatment)
        if ours.lift is None or ours.ci_low is None or ours.ci_high is None:
            continue
        mean = ours.lift
        sd = (ours.ci_high - ours.ci_low) / (2 * scipy_stats.norm.ppf(0.975))
        posterior = scipy_stats.norm(mean, sd)
        low, high = mean - 40 * sd, mean + 40 * sd
        density = posterior.pdf
        loss_treatment = integrate.quad(lambda x, f=density: -x * f(x), low, min(0.0, high))[0]
        loss_control = integrate.quad(lambda x, f=density: x * f(x), max(0.0, low), high)[0]
        yield Row("scipy-integrate", "risk", case, ours.risk, max(0.0, loss_treatment))
        yield Row(
            "scipy-integrate", "risk_control", case, ours.risk_control, max(0.0, loss_control)
        )


def srm_rows() -> Iterator[Row]:
    """scipy.stats.chisquare and gbstats check_srm on each case's counts and several splits."""
    for case in CASES:
        counts = [case.control.n, *(s.n for s in case.treatments.values())]
        for weights in ([1.0] * len(counts), [float(i + 1) for i in range(len(counts))]):
            ours = stats.srm_p_value(counts, weights)
            if sum(counts) == 0:
                continue
            total, weight = sum(counts), sum(weights)
            expected = [total * w / weight for w in weights]
            label = f"{case.id} weights={weights}"
            yield Row("scipy-chisquare", "srm_p_value", label, ours,
                      float(scipy_stats.chisquare(counts, expected).pvalue))  # fmt: skip
            yield Row("gbstats-srm", "srm_p_value", label, ours, check_srm(counts, weights))


def correction_rows() -> Iterator[Row]:
    """statsmodels multipletests (holm, bonferroni) on each multi-variant case's p-values."""
    for case in CASES:
        if len(case.treatments) < 2:
            continue
        for alpha in ALPHAS:
            p_values = [
                stats.frequentist(case.control, t, alpha=alpha).p_value
                for t in case.treatments.values()
            ]
            defined = [p for p in p_values if p is not None]
            for method, ours in (
                ("holm", stats.holm(p_values)),
                ("bonferroni", stats.bonferroni(p_values)),
            ):
                theirs = iter(multipletests(defined, alpha=alpha, method=method)[1])
                for i, (p, adjusted) in enumerate(zip(p_values, ours, strict=True)):
                    reference = None if p is None else next(theirs)
                    yield Row(
                        "statsmodels-multipletests",
                        method,
                        f"{case.id}/t{i + 1}",
                        adjusted,
                        reference,
                    )


def interval_rows() -> Iterator[Row]:
    """mean_interval: statsmodels' Wilson interval for rates, scipy's t interval for means."""
    for case in CASES:
        for name, summary in {"control": case.control, **case.treatments}.items():
            label = f"{case.id}/{name}"
            for alpha in ALPHAS:
                ours = stats.mean_interval(summary, alpha=alpha)
                if summary.kind == "binomial":
                    if summary.n == 0:
                        continue
                    low, high = proportion_confint(
                        summary.total, summary.n, alpha=alpha, method="wilson"
                    )
                    yield from _rows("statsmodels-wilson", label, {"low": (ours.low, low)})
                    yield from _rows("statsmodels-wilson", label, {"high": (ours.high, high)})
                    continue
                xs = case.raw[name]
                if len(xs) < 2 or len(set(xs)) == 1:
                    continue  # scipy: NaN (n < 2) or a zero-width interval (constant values)
                sem = float(scipy_stats.sem(xs))
                low, high = scipy_stats.t.interval(
                    1 - alpha, len(xs) - 1, loc=sum(xs) / len(xs), scale=sem
                )
                yield from _rows("scipy-t-interval", label, {"low": (ours.low, low)})
                yield from _rows("scipy-t-interval", label, {"high": (ours.high, high)})


def all_rows() -> Iterator[Row]:
    yield from frequentist_rows()
    yield from welch_rows()
    yield from bayesian_rows()
    yield from risk_integral_rows()
    yield from srm_rows()
    yield from correction_rows()
    yield from interval_rows()


def report() -> list[tuple[str, str, int, int, float, str]]:
    """(reference, quantity, rows compared, rows both undefined, max |difference|, worst case)."""
    table: dict[tuple[str, str], list[Row]] = {}
    for row in all_rows():
        table.setdefault((row.reference, row.quantity), []).append(row)
    out = []
    for (reference, quantity), rows in table.items():
        compared = [r for r in rows if r.difference is not None]
        worst = max(compared, key=lambda r: r.difference or 0.0, default=None)
        out.append(
            (
                reference,
                quantity,
                len(compared),
                sum(r.ours is None and r.theirs is None for r in rows),
                worst.difference or 0.0 if worst else 0.0,
                worst.case if worst else "",
            )
        )
    return out


if __name__ == "__main__":
    disagreements = [r for r in all_rows() if not r.agrees]
    print(f"{'reference':28} {'quantity':22} {'rows':>5} {'undef':>5}  max |ours - ref|")
    for reference, quantity, n, undefined, worst, _case in report():
        print(f"{reference:28} {quantity:22} {n:5d} {undefined:5d}  {worst:.3g}")
    print(f"disagreements beyond tolerance: {len(disagreements)}")
    for row in disagreements[:20]:
        print("  ", row)
