"""A rate limit per context on client events: one visitor cannot post a conversion 2,000 times.

The endpoint's throttle counts requests per user or address; this one counts *events* per
experiment and context key (what results are computed over), whatever address or session
they come from. Fixed windows of the rate's period, counted in the throttles' cache
(``api/throttle_cache.py``: per process while that cache is down). Events refused here still
count, so hammering keeps a context blocked until its window ends.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django_experiments.api.throttle_cache import throttle_cache
from django_experiments.api.throttles import parse_rate
from django_experiments.conf import settings

KEY_PREFIX = "glex:ctxrate"


def exceeded(events: Iterable[dict[str, Any]], now: float | None = None) -> float | None:
    """Count ``events`` against ``TRACKING_CLIENT_CONTEXT_RATE``.

    Returns None when every context is within its budget, else the seconds until the current
    window ends (for ``Retry-After``).
    """
    rate = settings.TRACKING_CLIENT_CONTEXT_RATE
    if rate is None:
        return None
    allowed, period = parse_rate(rate, "TRACKING_CLIENT_CONTEXT_RATE")
    if allowed is None or period is None:
        return None
    now = time.time() if now is None else now
    window = int(now // period)
    over = False
    counts = Counter((event["experiment"], event["key"]) for event in events)
    for (experiment, key), n in counts.items():
        cache_key = f"{KEY_PREFIX}:{experiment}:{key}:{window}"
        if throttle_cache.count(cache_key, n, period) > allowed:
            over = True
    if not over:
        return None
    return (window + 1) * period - now
