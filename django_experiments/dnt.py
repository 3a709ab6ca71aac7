"""Do-Not-Track: the visitor's header decides whether anything is tracked for them."""

from __future__ import annotations

import re

from django.http import HttpRequest

from django_experiments.conf import settings

#: The values gitlab-experiment treats as "do not track" (case-insensitive).
_TRUTHY = re.compile(r"(?:true|t|yes|y|1|on)", re.IGNORECASE)


def requests_no_tracking(request: HttpRequest) -> bool:
    """True when the ``DNT`` header holds one of the accepted truthy forms."""
    value = request.META.get("HTTP_DNT", "")
    return bool(_TRUTHY.fullmatch(value.strip()))


def trackable(request: HttpRequest) -> bool:
    """Assignment always works; this only decides whether events are recorded."""
    return not (settings.RESPECT_DNT and requests_no_tracking(request))
