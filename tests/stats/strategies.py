"""Hypothesis strategies for summary statistics."""

from __future__ import annotations

from hypothesis import strategies as st

from django_experiments.stats import Summary, binomial


@st.composite
def binomials(draw: st.DrawFn, max_n: int = 10_000) -> Summary:
    """Any valid conversion count: n contexts, 0 <= converted <= n."""
    n = draw(st.integers(0, max_n))
    return binomial(n, draw(st.integers(0, n)))
