"""Multiple-comparison corrections for several variants tested against one control."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Correction = Literal["holm", "bonferroni", "none"]


def bonferroni(p_values: Sequence[float | None]) -> list[float | None]:
    """``min(1, m p)`` where m counts the defined p-values; None stays None."""
    m = sum(p is not None for p in p_values)
    return [None if p is None else min(1.0, m * p) for p in p_values]


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (as statsmodels ``multipletests(method="holm")``).

    The i-th smallest of m p-values becomes ``max_{j<=i} min(1, (m - j + 1) p_(j))``. Undefined
    tests (None) are not part of the family and stay None.
    """
    defined = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(defined)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(defined):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


def adjust(p_values: Sequence[float | None], correction: Correction) -> list[float | None]:
    if correction == "holm":
        return holm(p_values)
    if correction == "bonferroni":
        return bonferroni(p_values)
    if correction == "none":
        return list(p_values)
    raise ValueError(f"correction must be 'holm', 'bonferroni' or 'none', got {correction!r}")
