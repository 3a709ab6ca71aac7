"""stats.legacy, the first results page's statistics: rate, lift, z-test checked with scipy."""

from __future__ import annotations

import math

from scipy import stats as scipy_stats

from django_experiments.stats import compare, two_proportion_p_value


def test_p_value_matches_scipy_two_proportion_test() -> None:
    x1, n1, x2, n2 = 130, 1000, 100, 1000
    pooled = (x1 + x2) / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    expected = 2 * scipy_stats.norm.sf(abs(z))
    assert math.isclose(two_proportion_p_value(x1, n1, x2, n2) or 0, expected, rel_tol=1e-9)


def test_undefined_tests_give_none() -> None:
    assert two_proportion_p_value(0, 0, 1, 10) is None
    assert two_proportion_p_value(0, 10, 0, 10) is None  # nobody converted: no variance


def test_compare_rows_control_first_with_lift() -> None:
    rows = compare("control", {"candidate": 200, "control": 100}, {"control": 10, "candidate": 30})
    assert [r.variant for r in rows] == ["control", "candidate"]
    control, candidate = rows
    assert control.rate == 0.1 and control.lift is None and control.p_value is None
    assert candidate.rate == 0.15
    assert math.isclose(candidate.lift or 0, 0.5)
    assert candidate.p_value is not None and 0 < candidate.p_value < 1


def test_conversions_never_exceed_assignments() -> None:
    [row] = compare("control", {"control": 5}, {"control": 9})
    assert row.converted == 5 and row.rate == 1.0
