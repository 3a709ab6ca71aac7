"""Rate limits of the browser-facing endpoints, per visitor (user, else client address).

The client address is the socket's unless ``TRUSTED_PROXIES`` names the proxies in front
(``api/client_ip.py``): DRF's own ``get_ident`` believes any ``X-Forwarded-For``, so a client
could pick a new address per request. Counts live in the default cache; while it is down each
process counts on its own (``api/throttle_cache.py``) instead of failing the request.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from django_experiments.api.client_ip import client_ip
from django_experiments.api.throttle_cache import throttle_cache
from django_experiments.conf import DEFAULTS, settings

logger = logging.getLogger("django_experiments")


class VisitorThrottle(SimpleRateThrottle):
    """A throttle whose rate is the ``DJANGO_EXPERIMENTS`` key named by ``setting``."""

    setting = "API_THROTTLE_RATE"
    cache = throttle_cache  # type: ignore[assignment]

    def get_rate(self) -> str | None:
        # Read live (override_settings works) rather than from DRF's THROTTLE_RATES.
        rate: str | None = getattr(settings, self.setting)
        return rate

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        return parse_rate(rate, self.setting)

    def get_ident(self, request: Any) -> str:
        return client_ip(request.META)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


def parse_rate(rate: str | None, setting: str) -> tuple[int | None, int | None]:
    """``"120/min"`` as (requests, seconds); a typo falls back to the setting's default.

    A typo in settings must not take the endpoint down (the system checks report it).
    """
    try:
        return SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
    except (ValueError, KeyError, IndexError, AttributeError, TypeError):
        default = DEFAULTS[setting]
        logger.error("Invalid %s %r; using %r", setting, rate, default)
        return SimpleRateThrottle.parse_rate(None, default)  # type: ignore[arg-type]


class AssignmentsThrottle(VisitorThrottle):
    scope = "django_experiments_assignments"
    setting = "API_THROTTLE_RATE"


class ClientEventsThrottle(VisitorThrottle):
    scope = "django_experiments_events"
    setting = "TRACKING_CLIENT_THROTTLE_RATE"
