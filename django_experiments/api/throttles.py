"""Rate limits of the browser-facing endpoints, per visitor (user, else client IP)."""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from django_experiments.conf import DEFAULTS, settings

logger = logging.getLogger("django_experiments")


class VisitorThrottle(SimpleRateThrottle):
    """A throttle whose rate is the ``DJANGO_EXPERIMENTS`` key named by ``setting``."""

    setting = "API_THROTTLE_RATE"

    def get_rate(self) -> str | None:
        # Read live (override_settings works) rather than from DRF's THROTTLE_RATES.
        rate: str | None = getattr(settings, self.setting)
        return rate

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        try:
            return super().parse_rate(rate)
        except (ValueError, KeyError, IndexError, AttributeError):
            # A typo in settings must not take the endpoint down: fall back to the default.
            default = DEFAULTS[self.setting]
            logger.error("Invalid %s %r; using %r", self.setting, rate, default)
            return super().parse_rate(default)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AssignmentsThrottle(VisitorThrottle):
    scope = "django_experiments_assignments"
    setting = "API_THROTTLE_RATE"


class ClientEventsThrottle(VisitorThrottle):
    scope = "django_experiments_events"
    setting = "TRACKING_CLIENT_THROTTLE_RATE"
