"""Redirect tracking: ``<prefix>/r/<experiment>:<key>?<url>`` (gitlab's ``mount_at`` middleware).

For links that cannot run code when followed (emails, markdown): records a ``visited`` event
with the URL for the context that owns ``key`` and redirects there with a 303. Only URLs the
validator accepts are followed (same host or ``REDIRECT_ALLOWED_HOSTS`` by default), so the
endpoint is no open redirect. Malformed ids are 404s and unacceptable URLs 400s, never 500s.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from django.http import (
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseNotFound,
    HttpResponseRedirect,
)
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache

from django_experiments.conf import settings
from django_experiments.engine import definitions
from django_experiments.engine.context import KEY_LENGTH
from django_experiments.engine.experiment import Experiment, split_name
from django_experiments.engine.registry import class_for
from django_experiments.engine.scope import Scope
from django_experiments.middleware import scope_of, with_scope

logger = logging.getLogger("django_experiments")

_KEY = re.compile(rf"[0-9a-f]{{{KEY_LENGTH}}}")
MAX_URL_LENGTH = 2048

Validator = Callable[[str, HttpRequest], bool]


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def default_validator(url: str, request: HttpRequest) -> bool:
    """Same host as the request, or one of ``REDIRECT_ALLOWED_HOSTS``; http(s) only."""
    hosts = {request.get_host(), *settings.REDIRECT_ALLOWED_HOSTS}
    return url_has_allowed_host_and_scheme(
        url, allowed_hosts=hosts, require_https=request.is_secure()
    )


def get_validator() -> Validator:
    """``REDIRECT_URL_VALIDATOR`` (a dotted path to ``validator(url, request) -> bool``)."""
    path = settings.REDIRECT_URL_VALIDATOR
    if not path:
        return default_validator
    validator: Validator = import_string(path)
    return validator


def redirect_path(experiment: Experiment, url: str) -> str:
    """The tracking path for ``url``: ``/experiments/r/<name>:<key>?<url>``."""
    path = reverse("django_experiments:redirect", args=[experiment.id])
    return f"{path}?{quote(url, safe='')}"


def _target(request: HttpRequest) -> str | None:
    raw = request.META.get("QUERY_STRING", "")
    if not raw or len(raw) > MAX_URL_LENGTH * 3:
        return None
    # Both ``?https://host/path`` (gitlab's form) and a percent-encoded URL are accepted.
    url = raw if "://" in raw or raw.startswith("/") else unquote(raw)
    if len(url) > MAX_URL_LENGTH or any(c in url for c in "\r\n\x00"):
        return None
    return url


def _valid_url(url: str, request: HttpRequest) -> bool:
    try:
        return bool(get_validator()(url, request))
    except Exception:
        logger.exception("REDIRECT_URL_VALIDATOR failed; not redirecting to %r", url)
        return False


@never_cache
@with_scope
def redirect(request: HttpRequest, experiment_id: str) -> HttpResponseBase:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    name, sep, key = experiment_id.rpartition(":")
    if not sep or not name or not _KEY.fullmatch(key):
        return HttpResponseNotFound("Unknown experiment link.")
    bare, full_name = split_name(name)
    if definitions.get_definition(bare) is None:
        return HttpResponseNotFound("Unknown experiment link.")
    url = _target(request)
    if url is None:
        return HttpResponseBadRequest("No URL to redirect to.")
    if not _valid_url(url, request):
        return HttpResponseBadRequest("Not redirecting to that URL.")
    if request.method == "GET":
        _track_visit(request, full_name, key, url)
    return HttpResponseSeeOther(url)


def _track_visit(request: HttpRequest, name: str, key: str, url: str) -> None:
    """``visited`` for the context owning ``key``; never blocks the redirect.

    ``only_assigned``: a key with no stored assignment is not tracked and nothing is written,
    so made-up keys cannot grow the store.
    """
    try:
        # A scope of its own without forced variants: the redirect's query string is the
        # target URL, and a glex_force inside it must not write an assignment for this key.
        # Events still land in the request's buffer, which the middleware flushes.
        request_scope = scope_of(request)
        scope = Scope(
            trackable=request_scope.trackable if request_scope is not None else True,
            events=request_scope.events if request_scope is not None else [],
        )
        exp: Any = class_for(name)(name, scope=scope, only_assigned=True)
        exp.context.set_key(key)
        exp.track("visited", url=url)
    except Exception:
        logger.warning("Tracking a redirect through %s failed", name, exc_info=True)
