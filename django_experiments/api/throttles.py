"""Rate limit of the client API: ``API_THROTTLE_RATE`` per visitor (user, else client IP)."""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from django_experiments.conf import DEFAULTS, settings

logger = logging.getLogger("django_experiments")


class AssignmentsThrottle(SimpleRateThrottle):
    scope = "django_experiments_assignments"

    def get_rate(self) -> str | None:
        # Read live (override_settings works) rather than from DRF's THROTTLE_RATES.
        rate: str | None = settings.API_THROTTLE_RATE
        return rate

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        try:
            return super().parse_rate(rate)
        except (ValueError, KeyError, IndexError, AttributeError):
            # A typo in settings must not take the endpoint down: fall back to the default.
            logger.error(
                "Invalid API_THROTTLE_RATE %r; using %r", rate, DEFAULTS["API_THROTTLE_RATE"]
            )
            return super().parse_rate(DEFAULTS["API_THROTTLE_RATE"])

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
