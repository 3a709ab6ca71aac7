"""Holm and Bonferroni adjusted p-values equal statsmodels' on any family, None kept aside."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from django_experiments.stats import bonferroni, holm
from django_experiments.stats.correction import adjust

p_values = st.lists(st.one_of(st.none(), st.floats(0, 1)), max_size=12)


# Few examples: statsmodels' multipletests runs gc.collect() on every call (~0.1 s here).
@settings(max_examples=30, deadline=None)
@given(p_values)
def test_holm_and_bonferroni_equal_statsmodels(ps: list[float | None]) -> None:
    defined = [p for p in ps if p is not None]
    for method, ours in (("holm", holm(ps)), ("bonferroni", bonferroni(ps))):
        assert [a is None for a in ours] == [p is None for p in ps]
        if defined:
            expected = list(multipletests(defined, method=method)[1])
            assert [a for a in ours if a is not None] == pytest.approx(expected, abs=1e-12)


def test_holm_is_uniformly_more_powerful_than_bonferroni() -> None:
    ps = [0.01, 0.02, 0.04]
    assert holm(ps) == pytest.approx([0.03, 0.04, 0.04])
    assert bonferroni(ps) == pytest.approx([0.03, 0.06, 0.12])


def test_adjust_dispatches_and_refuses_unknown_methods() -> None:
    assert adjust([0.01, None], "none") == [0.01, None]
    assert adjust([0.01, 0.2], "holm") == holm([0.01, 0.2])
    with pytest.raises(ValueError, match="correction must be"):
        adjust([0.01], "fdr")  # type: ignore[arg-type]
