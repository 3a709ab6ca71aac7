"""Every variant against control in one call: both engines and the multiple-comparison step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django_experiments.stats._checks import check_alpha
from django_experiments.stats.bayesian import Bayesian, GaussianPrior, bayesian
from django_experiments.stats.correction import Correction, adjust
from django_experiments.stats.frequentist import Frequentist, frequentist
from django_experiments.stats.summary import Summary


@dataclass(frozen=True)
class Comparison:
    """One variant against control.

    ``p_value_adjusted`` is the frequentist p-value after the correction; ``significant`` is
    ``p_value_adjusted < alpha``. With a correction and several defined tests, the frequentist
    intervals use ``alpha / m`` (Bonferroni), so an interval that excludes 0 always agrees with a
    significant adjusted p-value.
    """

    summary: Summary
    frequentist: Frequentist
    bayesian: Bayesian
    p_value_adjusted: float | None
    significant: bool


def compare_all(
    control: Summary,
    variants: Mapping[str, Summary],
    *,
    correction: Correction = "holm",
    alpha: float = 0.05,
    sequential_tuning: float | None = None,
    prior: GaussianPrior | None = None,
    inverse: bool = False,
) -> dict[str, Comparison]:
    """Compare each treatment in ``variants`` (control excluded) with ``control``, in order."""
    check_alpha(alpha)
    unadjusted = {
        name: frequentist(control, s, alpha=alpha, sequential_tuning=sequential_tuning)
        for name, s in variants.items()
    }
    adjusted = dict(
        zip(unadjusted, adjust([r.p_value for r in unadjusted.values()], correction), strict=True)
    )
    family = sum(r.p_value is not None for r in unadjusted.values())
    interval_alpha = alpha / family if correction != "none" and family > 1 else alpha
    results: dict[str, Comparison] = {}
    for name, summary in variants.items():
        result = unadjusted[name]
        if interval_alpha != alpha:
            result = frequentist(
                control, summary, alpha=interval_alpha, sequential_tuning=sequential_tuning
            )
        p_adjusted = adjusted[name]
        results[name] = Comparison(
            summary=summary,
            frequentist=result,
            bayesian=bayesian(control, summary, alpha=alpha, prior=prior, inverse=inverse),
            p_value_adjusted=p_adjusted,
            significant=p_adjusted is not None and p_adjusted < alpha,
        )
    return results
