"""Client-side events: ``POST`` from the browser for client-visible experiments.

Body (JSON, at most ``EVENT_MAX_BODY_BYTES`` and ``body.MAX_DEPTH`` levels deep)::

    {"events": [{"experiment": "cta", "event": "clicked", "variant": "candidate",
                 "value": 1, "properties": {"position": "hero"}}]}

or one such event object on its own. Each event is checked against the experiment's definition
(known, client-visible) and the visitor's actual assignment, resolved server-side from the
session user or the anonymous cookie with ``only_assigned`` (a browser cannot create an
assignment by posting events). All events are validated before any is recorded: a 400 means
nothing was recorded. Events the server would not track (DNT, excluded, not running, never
assigned) are accepted and ignored, so a page rendered just before a status change gets no
error. CSRF is enforced for every caller (send the ``X-CSRFToken`` header), and callers are
throttled by ``TRACKING_CLIENT_THROTTLE_RATE`` (requests) and ``TRACKING_CLIENT_CONTEXT_RATE``
(events per experiment and context, ``context_limit.py``).
"""

from __future__ import annotations

import math
from typing import Any

from django.http.request import RawPostDataException
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_experiments.api import context_limit
from django_experiments.api.body import BodyError, parse_json
from django_experiments.api.throttles import ClientEventsThrottle
from django_experiments.conf import settings
from django_experiments.engine import definitions as defs
from django_experiments.engine.experiment import split_name
from django_experiments.engine.scope import current_scope
from django_experiments.engine.stores import NullStore, get_store
from django_experiments.tracking.events import InvalidEventError, build_event
from django_experiments.tracking.producer import emit

ALLOWED_FIELDS = frozenset({"experiment", "event", "variant", "value", "properties"})


def _enforce_csrf(request: Request) -> None:
    # DRF only checks CSRF for session-authenticated users; anonymous visitors are identified
    # by a cookie too, so a cross-site form could forge their events. Check everyone, with
    # DRF's own check.
    SessionAuthentication().enforce_csrf(request)


def _error(message: str, code: int = status.HTTP_400_BAD_REQUEST, **extra: Any) -> Response:
    return Response({"detail": message, **extra}, status=code)


class ClientEventsView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [ClientEventsThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        _enforce_csrf(request)

    def post(self, request: Request) -> Response:
        limit = int(settings.EVENT_MAX_BODY_BYTES)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _error("Content-Length is not a number.")
        if declared > limit:
            return self._too_large(declared, limit)
        try:
            body = request._request.body
        except RawPostDataException:
            return _error("The request body was already consumed.")
        except Exception:  # RequestDataTooBig beyond DATA_UPLOAD_MAX_MEMORY_SIZE
            return self._too_large(None, limit)
        if len(body) > limit:
            return self._too_large(len(body), limit)
        try:
            payload = parse_json(body)
        except BodyError as exc:
            return _error(str(exc))
        if isinstance(payload, dict) and "events" in payload:
            extra = set(payload) - {"events"}
            if extra:
                return _error("Unexpected top-level fields: " + ", ".join(sorted(extra)))
            items = payload["events"]
        else:
            items = [payload]
        if not isinstance(items, list) or not items:
            return _error('"events" must be a non-empty list of event objects.')
        max_events = int(settings.TRACKING_CLIENT_MAX_EVENTS)
        if len(items) > max_events:
            return _error(
                f"{len(items)} events in one request; the limit is {max_events} "
                "(TRACKING_CLIENT_MAX_EVENTS)."
            )
        # The URLconf wraps this view in ``with_scope``: there is always a scope, the
        # middleware's or the view's own, and it ships the events when it closes.
        return self._record(request, items)

    def _too_large(self, size: int | None, limit: int) -> Response:
        said = f"{size} bytes" if size is not None else "too large"
        return _error(
            f"The request body is {said}; the limit is {limit} bytes (EVENT_MAX_BODY_BYTES).",
            code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )

    def _record(self, request: Request, items: list[Any]) -> Response:
        errors: dict[str, Any] = {}
        built: list[dict[str, Any] | None] = []
        for index, item in enumerate(items):
            try:
                built.append(self._build(request, item))
            except InvalidEventError as exc:
                errors[str(index)] = str(exc)
        if errors:
            return _error("Invalid events; none were recorded.", errors=errors)
        ready = [event for event in built if event is not None]
        wait = context_limit.exceeded(ready)
        if wait is not None:
            return _throttled(wait)
        scope = current_scope()
        for event in ready:
            emit(scope, event)
        return Response({"accepted": len(ready), "ignored": len(items) - len(ready)}, status=202)

    def _build(self, request: Request, item: Any) -> dict[str, Any] | None:
        """The event, or None when the server would not track it."""
        from django_experiments.engine.registry import experiment

        if not isinstance(item, dict):
            raise InvalidEventError("each event must be a JSON object")
        unknown = set(item) - ALLOWED_FIELDS
        if unknown:
            raise InvalidEventError("unexpected fields: " + ", ".join(sorted(unknown)))
        name = item.get("experiment")
        if not isinstance(name, str) or not name:
            raise InvalidEventError('"experiment" must be a non-empty string')
        # Definitions are keyed by the bare name (the admin row's), prefix or not.
        definition = defs.get_definition(split_name(name)[0])
        if definition is None:
            raise InvalidEventError(f"unknown experiment {name!r}")
        if not definition.client_visible:
            raise InvalidEventError(f"experiment {name!r} is not client-visible")
        claimed = item.get("variant")
        if claimed is not None and (
            not isinstance(claimed, str) or claimed not in definition.by_name
        ):
            raise InvalidEventError(f"experiment {name!r} has no variant {claimed!r}")
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
        # only_assigned: a browser must not mint assignments. With no store nothing sticks,
        # and deterministic resolution is the visitor's actual assignment.
        only_assigned = not isinstance(get_store(), NullStore)
        exp = experiment(name, actor=actor, only_assigned=only_assigned)
        event = build_event(exp, item.get("event"), item.get("value"), item.get("properties"))  # type: ignore[arg-type]
        if not exp.should_track:
            return None
        if claimed is not None and claimed != exp.decision.variant:
            raise InvalidEventError(
                f"variant {claimed!r} is not this visitor's assignment in {name!r}"
            )
        return event


def _throttled(wait: float) -> Response:
    seconds = max(1, math.ceil(wait))
    response = _error(
        "Too many events for this visitor in this experiment; none were recorded "
        "(TRACKING_CLIENT_CONTEXT_RATE).",
        code=status.HTTP_429_TOO_MANY_REQUESTS,
        retry_after=seconds,
    )
    response["Retry-After"] = str(seconds)
    return response
