"""``?glex_force=<full experiment name>:<variant>``: forced assignment for QA.

This module only parses the parameter; the engine applies it (enabled experiments only,
registered variants only, never over an explicit variant) and stores the result, so the forced
variant sticks after the parameter is gone. Anything malformed is ignored, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.http import HttpRequest

from django_experiments.conf import settings

logger = logging.getLogger("django_experiments")

#: Bounds on what one request may force: experiment names are at most 100 characters and
#: nobody QA-tests dozens of experiments through one URL.
MAX_VALUE_LENGTH = 250
MAX_VALUES = 10


def parse(values: Iterable[str]) -> dict[str, str]:
    """``{experiment: variant}`` from raw parameter values; junk values are dropped."""
    forced: dict[str, str] = {}
    for count, value in enumerate(values):
        if count >= MAX_VALUES:
            break
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            continue
        name, sep, variant = value.partition(":")
        # "a:b:c" gives the variant "b:c", which no treatment can be named: ignored later.
        if not sep or not name or not variant:
            continue
        forced[name] = variant
    return forced


def requested(request: HttpRequest) -> dict[str, str]:
    """The forcing the request asks for, before any permission check ({} when disabled)."""
    if not settings.ALLOW_FORCED_ASSIGNMENT:
        return {}
    param = settings.FORCE_PARAM
    try:
        values = request.GET.getlist(param)
    except Exception:  # e.g. TooManyFieldsSent: the view reports it; forcing just stays off
        logger.debug("Unreadable query string; %s ignored", param, exc_info=True)
        return {}
    return parse(values)


def staff_only() -> bool:
    return bool(settings.FORCE_STAFF_ONLY)


def permitted(user: object) -> bool:
    """Whether ``user`` may force variants (everyone unless ``FORCE_STAFF_ONLY``)."""
    if not staff_only():
        return True
    return bool(getattr(user, "is_staff", False)) and bool(getattr(user, "is_active", False))
