"""``ExperimentMiddleware``: one experiment scope per request.

Request phase: read DNT, ``glex_force`` (permission-checked) and the anonymous actor cookie into
a :class:`~django_experiments.engine.scope.Scope`, bind it for the view (contextvar, so it holds
in sync and async views and in threads started with ``sync_to_async``), and attach
``request.experiment`` / ``request.aexperiment``.

Response phase: write the anonymous cookie only if an id was minted, delete it once its
identity was handed to a known actor (login), then close the scope: a new visitor's
assignments are written (one pipelined set-if-absent) and the buffered events handed to the
tracking pipeline, once, before the response is returned, whether the view returned or
raised. Nothing here can turn a good response into an error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial, wraps
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers

from django_experiments import cookies, dnt, force
from django_experiments.conf import settings
from django_experiments.engine import assignments
from django_experiments.engine.context import RESERVED, is_anonymous_actor
from django_experiments.engine.experiment import Experiment
from django_experiments.engine.registry import experiment, prefetch, resolved_in
from django_experiments.engine.scope import Scope, activate
from django_experiments.tracking import redis_handoff
from django_experiments.tracking.producer import carry, flush_scope, hand_over

logger = logging.getLogger("django_experiments")

SCOPE_ATTR = "_experiments_scope"
_INVALID_COOKIE = "invalid_cookie"


_UNSET = object()


def scope_of(request: Any) -> Scope | None:
    """The request's experiment scope (DRF requests proxy to the Django request)."""
    scope = getattr(request, SCOPE_ATTR, None)
    return scope if isinstance(scope, Scope) else None


def _with_default_actor(context: dict[str, Any], user: Any) -> dict[str, Any]:
    """The actor default rule (docs/request-layer.md, "request.experiment").

    No context keywords at all (options such as ``only_assigned`` do not count) → the actor
    is the request's user. Any context keyword given → exactly that context, so
    ``request.experiment("x", project=p)`` is sticky to the project alone and sets no cookie,
    as in gitlab-experiment. An anonymous actor (``None`` or ``AnonymousUser``) is normalised
    to ``None`` so both spellings share one memoised resolution.
    """
    if not set(context) - RESERVED:
        context = {**context, "actor": user}
    if "actor" in context and is_anonymous_actor(context["actor"]):
        context = {**context, "actor": None}
    return context


class RequestExperiments:
    """``request.experiment(name, variant=None, **context)``: memoised per request."""

    __slots__ = ("request", "scope", "_user")

    def __init__(self, request: HttpRequest, scope: Scope) -> None:
        self.request = request
        self.scope = scope
        self._user: Any = _UNSET

    def default_actor(self) -> Any:
        """The request's user, or None when anonymous; evaluated once per request.

        ``request.user`` is a lazy object: it is only loaded if it becomes the actor, and then
        only once, not once per experiment.
        """
        user = self._user
        if user is _UNSET:
            user = getattr(self.request, "user", None)
            user = self._user = None if is_anonymous_actor(user) else user
        return user

    def forget_user(self) -> None:
        """The user changed (login during the request): read ``request.user`` again."""
        self._user = _UNSET

    def __call__(self, name: str, variant: str | None = None, /, **context: Any) -> Experiment:
        if not context:  # the common call: request.experiment("cta")
            return experiment(name, variant, scope=self.scope, actor=self.default_actor())
        context = _with_default_actor(context, self.default_actor())
        return experiment(name, variant, scope=self.scope, **context)

    def prefetch(self, *names: str, **context: Any) -> int:
        """Read these experiments' stored assignments in one round trip (same context rules
        as ``request.experiment``); see ``django_experiments.prefetch``."""
        context = _with_default_actor(context, self.default_actor())
        return prefetch(names, scope=self.scope, **context)

    async def resolve_async(
        self, name: str, variant: str | None = None, /, **context: Any
    ) -> Experiment:
        """``await request.aexperiment(...)``: the same, resolved off the event loop.

        The engine may touch the database (cold definitions) and blocking stores, so it runs
        in a worker thread; ``sync_to_async`` copies the context, so the scope is bound there.
        """
        if not set(context) - RESERVED:
            context = {**context, "actor": await _auser(self.request)}
        if resolved_in(self.scope, name, variant, _with_default_actor(context, None)):
            return self(name, variant, **context)  # memoised: no I/O, no thread hop

        def resolve() -> Experiment:
            exp = self(name, variant, **context)
            # Resolve now, in this thread; reading ``assigned`` later records the exposure
            # on the event loop, without I/O (it is buffered on the scope).
            exp.decision  # noqa: B018
            return exp

        return await sync_to_async(resolve)()


async def _auser(request: HttpRequest) -> Any:
    auser = getattr(request, "auser", None)
    if auser is not None:
        return await auser()
    return await sync_to_async(lambda: getattr(request, "user", None))()


def begin(request: HttpRequest) -> Scope:
    """Build the request's scope (without the staff check) and attach the helpers."""
    cookie = cookies.read(request)
    scope = Scope(
        trackable=dnt.trackable(request),
        forced=force.requested(request),
        anonymous_id=cookie.anonymous_id,
        hand_picked=cookie.hand_picked,
    )
    if cookie.invalid:
        scope.extra[_INVALID_COOKIE] = True
    # close() writes a new visitor's assignments and ships the events before the response.
    scope.deferring = True
    helper = RequestExperiments(request, scope)
    setattr(request, SCOPE_ATTR, scope)
    # setattr: HttpRequest has no such attributes in django-stubs; they are ours to add.
    setattr(request, "experiment", helper)  # noqa: B010
    setattr(request, "aexperiment", helper.resolve_async)  # noqa: B010
    return scope


def _check_force(scope: Scope, request: HttpRequest) -> None:
    # Only a forcing request pays for loading the user (FORCE_STAFF_ONLY).
    if scope.forced and force.staff_only() and not force.permitted(getattr(request, "user", None)):
        scope.forced = {}


def finish(request: HttpRequest, response: HttpResponseBase, scope: Scope) -> None:
    """The response phase's cookie work; never raises."""
    try:
        _cookies(request, response, scope)
    except Exception:
        logger.exception("Writing the experiments cookie failed")


def _cookies(request: HttpRequest, response: HttpResponseBase, scope: Scope) -> None:
    present = settings.cookie_name in request.COOKIES
    handed_over = scope.anonymous_resolved and not scope.anonymous_used
    if scope.new_anonymous_id is not None:
        cookies.write(response, scope.new_anonymous_id, scope.hand_picked)
    elif scope.hand_picked_now and scope.anonymous_id is not None and not handed_over:
        # A variant was chosen by hand for this visitor: from now on the cookie says so.
        cookies.write(response, scope.anonymous_id, hand_picked=True)
    elif present and (handed_over or scope.extra.get(_INVALID_COOKIE)):
        cookies.delete(response)
    if scope.anonymous_used:
        # The content depends on the cookie: shared caches must not serve it to others.
        patch_vary_headers(response, ("Cookie",))


def close(scope: Scope) -> None:
    """End the scope's unit of work; never raises.

    The new visitor's assignments are written before anything can reveal their id, then the
    buffered events are handed over. Later resolutions and events (a streaming body) act at
    once.
    """
    scope.deferring = False
    carried = None
    try:
        # With the "redis" hand-off, the events ride in the assignments' pipeline.
        carried = carry(scope)
    except Exception:
        logger.exception("Preparing the events' hand-off failed; they are handed over alone")
    sent = False
    try:
        sent = assignments.write_pending(
            scope, (redis_handoff.alias(), carried[0]) if carried is not None else None
        )
    except Exception:
        logger.exception("Writing new assignments failed; the response is unaffected")
    try:
        if carried is not None and not sent:
            hand_over(carried[1])
        flush_scope(scope)
    except Exception:
        logger.exception("Flushing experiment events failed; the response is unaffected")


def serve(request: HttpRequest, scope: Scope, get_response: Callable[[], Any]) -> Any:
    """The sync request path, shared by the middleware and :func:`with_scope`."""
    try:
        with activate(scope):
            response = get_response()
        finish(request, response, scope)
        return response
    finally:
        # Also when the view raised: events tracked before the exception still leave.
        close(scope)


class ExperimentMiddleware:
    """Place after ``AuthenticationMiddleware`` (it reads ``request.user`` lazily)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        if scope_of(request) is not None:  # already scoped (a decorated view inside)
            return self.get_response(request)
        scope = begin(request)
        _check_force(scope, request)
        return serve(request, scope, partial(self.get_response, request))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]
        get_response = self.get_response
        if scope_of(request) is not None:
            return await get_response(request)
        scope = begin(request)
        if scope.forced and force.staff_only() and not force.permitted(await _auser(request)):
            scope.forced = {}
        try:
            with activate(scope):
                response = await get_response(request)
            finish(request, response, scope)
            return response
        finally:
            # As serve(); the store and the broker block, so off the event loop (one thread
            # hop per request, and only when there is something to write or ship).
            if scope.pending or scope.events:
                await sync_to_async(close)(scope)
            else:
                scope.deferring = False


ViewFunc = Callable[..., HttpResponseBase]


def with_scope(view: ViewFunc) -> ViewFunc:
    """Give a sync view a scope of its own when the middleware is not installed.

    The package's views (client API, redirect tracking) use it so that they set cookies and
    flush events either way; with the middleware installed it does nothing.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if scope_of(request) is not None:
            return view(request, *args, **kwargs)
        scope = begin(request)
        _check_force(scope, request)
        return serve(request, scope, partial(view, request, *args, **kwargs))

    return wrapped
