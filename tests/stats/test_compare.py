"""compare_all: each variant against control, both engines, the correction applied once."""

from __future__ import annotations

import pytest

from django_experiments.stats import (
    Correction,
    bayesian,
    binomial,
    compare_all,
    frequentist,
    holm,
)
from tests.stats.cases import CASES, Case

CONTROL = binomial(4000, 400)
VARIANTS = {
    "small": binomial(4000, 410),
    "big": binomial(4000, 470),
    "worse": binomial(3900, 380),
    "strong": binomial(4100, 500),
}


def test_every_variant_against_control_in_order() -> None:
    results = compare_all(CONTROL, VARIANTS)
    assert list(results) == list(VARIANTS)
    for name, result in results.items():
        assert result.summary is VARIANTS[name]
        assert result.frequentist.lift == frequentist(CONTROL, VARIANTS[name]).lift
        assert result.bayesian == bayesian(CONTROL, VARIANTS[name])


def test_holm_adjusts_p_values_and_decides_significance() -> None:
    results = compare_all(CONTROL, VARIANTS, correction="holm")
    raw = [frequentist(CONTROL, s).p_value for s in VARIANTS.values()]
    assert [r.p_value_adjusted for r in results.values()] == holm(raw)
    assert [r.significant for r in results.values()] == [
        p is not None and p < 0.05 for p in holm(raw)
    ]
    # "big" alone passes at 0.05 (p = 0.020) but not after Holm over four variants
    assert results["strong"].significant
    assert not results["big"].significant and (raw[1] or 1) < 0.05


def test_corrected_intervals_use_bonferroni_alpha_and_agree_with_the_decision() -> None:
    results = compare_all(CONTROL, VARIANTS, correction="holm")
    for result in results.values():
        f = result.frequentist
        assert f.alpha == pytest.approx(0.05 / 4)
        assert f.ci_low is not None and f.ci_high is not None
        if f.ci_low > 0 or f.ci_high < 0:
            assert result.significant  # an interval excluding 0 is never contradicted


def test_no_correction_keeps_raw_p_values_and_alpha() -> None:
    results = compare_all(CONTROL, VARIANTS, correction="none")
    for name, result in results.items():
        assert result.p_value_adjusted == frequentist(CONTROL, VARIANTS[name]).p_value
        assert result.frequentist.alpha == 0.05


def test_one_variant_needs_no_correction() -> None:
    [result] = compare_all(CONTROL, {"only": VARIANTS["big"]}).values()
    assert result.frequentist.alpha == 0.05
    assert result.p_value_adjusted == result.frequentist.p_value


def test_undefined_variants_are_left_out_of_the_family() -> None:
    variants = {"empty": binomial(0, 0), "big": VARIANTS["big"], "strong": VARIANTS["strong"]}
    results = compare_all(CONTROL, variants)
    assert results["empty"].p_value_adjusted is None and not results["empty"].significant
    assert results["big"].frequentist.alpha == pytest.approx(0.05 / 2)


def test_sequential_option_reaches_every_variant() -> None:
    results = compare_all(CONTROL, VARIANTS, sequential_tuning=5000)
    assert all(r.frequentist.sequential_tuning == 5000 for r in results.values())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_reference_case_compares_without_error(case: Case) -> None:
    corrections: tuple[Correction, ...] = ("holm", "bonferroni", "none")
    for correction in corrections:
        results = compare_all(case.control, case.treatments, correction=correction)
        assert list(results) == list(case.treatments)
