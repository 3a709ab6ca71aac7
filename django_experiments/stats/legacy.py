"""The first results page's statistics: conversion rates and a pooled two-proportion z-test.

Kept importable (``django_experiments.stats.compare`` and friends) until the results page moves to
:func:`django_experiments.stats.compare_all`; new code should not use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class VariantResult:
    variant: str
    assigned: int
    converted: int
    rate: float | None
    lift: float | None  # relative to control, e.g. 0.12 = +12 %
    p_value: float | None  # two-sided, against control


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of a pooled two-proportion z-test; None when undefined."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return None
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def compare(
    control: str, assigned: dict[str, int], converted: dict[str, int]
) -> list[VariantResult]:
    """One row per variant, control first; converted counts are capped at assigned counts."""
    n0 = assigned.get(control, 0)
    x0 = min(converted.get(control, 0), n0)
    base = x0 / n0 if n0 else None
    rows = []
    for variant in [control, *sorted(v for v in assigned if v != control)]:
        n = assigned.get(variant, 0)
        x = min(converted.get(variant, 0), n)
        rate = x / n if n else None
        lift = None
        p_value = None
        if variant != control and rate is not None and base:
            lift = rate / base - 1
        if variant != control:
            p_value = two_proportion_p_value(x, n, x0, n0)
        rows.append(VariantResult(variant, n, x, rate, lift, p_value))
    return rows
