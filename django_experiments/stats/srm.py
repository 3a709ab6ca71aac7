"""Sample ratio mismatch: a chi-square test of exposed counts against the configured weights."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import special

#: Below this p-value the split is treated as broken (GrowthBook uses the same threshold).
SRM_THRESHOLD = 0.001


def srm_p_value(observed: Sequence[int], weights: Sequence[float]) -> float | None:
    """Pearson chi-square goodness-of-fit p-value; None when no test is possible.

    Weights are any non-negative numbers (they are normalised). A zero-weight variant with no
    contexts drops out of the test; one with contexts cannot happen under the configured split,
    so the p-value is 0. None when nobody was exposed or fewer than two variants have weight.
    """
    if len(observed) != len(weights):
        raise ValueError(f"{len(observed)} counts for {len(weights)} weights")
    if any(o < 0 for o in observed):
        raise ValueError("observed counts must be >= 0")
    if any(not (math.isfinite(w) and w >= 0) for w in weights):
        raise ValueError("weights must be finite and >= 0")
    if any(o > 0 and w == 0 for o, w in zip(observed, weights, strict=True)):
        return 0.0
    pairs = [(o, w) for o, w in zip(observed, weights, strict=True) if w > 0]
    total = sum(o for o, _ in pairs)
    if len(pairs) < 2 or total == 0:
        return None
    weight = sum(w for _, w in pairs)
    statistic = sum((o - total * w / weight) ** 2 / (total * w / weight) for o, w in pairs)
    # chdtrc is the chi-square survival function that scipy.stats.chi2.sf evaluates.
    return float(special.chdtrc(len(pairs) - 1, statistic))
