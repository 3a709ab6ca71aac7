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
import time
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from rest_framework import status
from rest_framework.authentication import CSRFCheck, SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_experiments import cookies
from django_experiments.api.throttles import ClientEventsThrottle
from django_experiments.conf import settings
from django_experiments.engine import definitions as defs
from django_experiments.engine import writebehind
from django_experiments.engine.experiment import split_name
from django_experiments.engine.scope import Scope, activate, current_scope
from django_experiments.engine.stores import NullStore, get_store
from django_experiments.tracking import context_limit
from django_experiments.tracking.body import BodyError, parse_json
from django_experiments.tracking.events import InvalidEventError, build_event, emit

ALLOWED_FIELDS = frozenset({"experiment", "event", "variant", "value", "properties"})


def _enforce_csrf(request: Request) -> None:
    # DRF only checks CSRF for session-authenticated users; anonymous visitors are identified
    # by a cookie too, so a cross-site form could forge their events. Check everyone.
    def get_response(_: HttpRequest) -> HttpResponse:
        return HttpResponse()

    check = CSRFCheck(get_response)
    check.process_request(request._request)
    reason = check.process_view(request._request, get_response, (), {})
    if reason:
        raise PermissionDenied(f"CSRF Failed: {reason}")


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
        scope = current_scope()
        if scope is None:
            # No ExperimentMiddleware: bind a scope of our own and flush it ourselves.
            own = Scope(trackable=not _dnt(request))
            with activate(own):
                response = self._record(request, items)
            from django_experiments.tracking.dispatch import flush_scope

            flush_scope(own)
            return response
        return self._record(request, items)

    def _too_large(self, size: int | None, limit: int) -> Response:
        said = f"{size} bytes" if size is not None else "too large"
        return _error(
            f"The request body is {said}; the limit is {limit} bytes (EVENT_MAX_BODY_BYTES).",
            code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )

    def _record(self, request: Request, items: list[Any]) -> Response:
        scope = current_scope()
        if scope is not None:
            # Events name any client-visible experiment: no route to learn or prefetch here.
            scope.route_of = None
        errors: dict[str, Any] = {}
        built: dict[int, dict[str, Any] | None] = {}
        waiting: list[int] = []
        for index, item in enumerate(items):
            try:
                built[index], pending = self._build(request, item)
            except InvalidEventError as exc:
                errors[str(index)] = str(exc)
                continue
            if pending:
                waiting.append(index)
        if waiting and not errors:
            errors = self._await_pending(request, items, built, waiting)
        if errors:
            return _error("Invalid events; none were recorded.", errors=errors)
        ready = [event for event in built.values() if event is not None]
        wait = context_limit.exceeded(ready)
        if wait is not None:
            return _throttled(wait)
        for event in ready:
            emit(event)
        return Response({"accepted": len(ready), "ignored": len(items) - len(ready)}, status=202)

    def _await_pending(
        self,
        request: Request,
        items: list[Any],
        built: dict[int, dict[str, Any] | None],
        waiting: list[int],
    ) -> dict[str, Any]:
        """Build again the events whose assignment a first page may still be writing.

        A first page view stores its assignments just after its response
        (engine/writebehind.py); an event its script sends at once can arrive before that write.
        One bounded wait per request (at most ``sum(FRESH_RETRY_DELAYS)``), and only for a
        cookie minted seconds ago, so a client cannot hold the endpoint longer by sending more
        events. Returns the errors of the events built again (none if nothing changed).
        """
        from django_experiments.engine.registry import forget

        minted = cookies.age(request._request)
        scope = current_scope()
        if minted is None or minted > FRESH_COOKIE_SECONDS or scope is None:
            return {}
        writebehind.writer.flush(timeout=0.05)  # this process's own writes
        for delay in FRESH_RETRY_DELAYS:  # another process's writes
            time.sleep(delay)
            for index in waiting:
                forget(scope, items[index]["experiment"])
            still = []
            for index in waiting:
                try:
                    built[index], pending = self._build(request, items[index])
                except InvalidEventError as exc:
                    return {str(index): str(exc)}
                if pending:
                    still.append(index)
            waiting = still
            if not waiting:
                break
        return {}

    def _build(self, request: Request, item: Any) -> tuple[dict[str, Any] | None, bool]:
        """The event (None: not tracked), and whether a pending first-visit write may fill it."""
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
            return None, actor is None and writebehind.may_be_pending(exp)
        if claimed is not None and claimed != exp.assigned.name:
            raise InvalidEventError(
                f"variant {claimed!r} is not this visitor's assignment in {name!r}"
            )
        return event, False


#: A cookie younger than this may belong to a page whose assignments are still being written.
FRESH_COOKIE_SECONDS = 10.0
#: Waits before re-reading the store for such a visitor's misses: together longer than the
#: write-behind's linger (engine/writebehind.py LINGER_SECONDS) plus a round trip.
FRESH_RETRY_DELAYS = (0.0, 0.02, 0.04, 0.08)


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


def _dnt(request: Request) -> bool:
    return bool(settings.RESPECT_DNT) and request.META.get("HTTP_DNT") == "1"
