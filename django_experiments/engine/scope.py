"""Per-request (or per-unit-of-work) state the engine reads without knowing about HTTP.

The middleware fills a Scope from the request and binds it with :func:`activate`; code outside
requests runs with no scope, or binds its own to buffer events and memoise resolutions. A
contextvar keeps concurrent requests apart under threads and asyncio alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

_current: ContextVar[Scope | None] = ContextVar("django_experiments_scope", default=None)

#: Anonymous actors are identified as ``anon:<cookie id>``; the prefix keeps a cookie id from
#: ever colliding with a model identity (``app_label.model:pk``) in a context key.
ANONYMOUS_PREFIX = "anon:"


def anonymous_identity(anonymous_id: str) -> str:
    """The actor identity (what context keys are derived from) of an anonymous cookie id."""
    return ANONYMOUS_PREFIX + anonymous_id


@dataclass
class Scope:
    #: False when the visitor asked not to be tracked (DNT).
    trackable: bool = True
    #: ``{full experiment name: variant}`` requested through ``glex_force``; already
    #: permission-checked by the caller.
    forced: dict[str, str] = field(default_factory=dict)
    #: The anonymous actor id read from a valid signed cookie, if any (without the prefix).
    anonymous_id: str | None = None
    #: Set when an anonymous actor was needed and no cookie existed: the response writes it.
    new_anonymous_id: str | None = None
    #: True when one of the anonymous actor's stored variants was chosen by hand (an explicit
    #: or forced variant, in this or an earlier request: the cookie remembers it), so it may
    #: differ from the slot table: that visitor's claims are never predicted.
    hand_picked: bool = False
    #: True when that happened in this scope: the response re-issues the cookie to say so.
    hand_picked_now: bool = False
    #: The anonymous id of a visitor who logged in during this request (without the prefix):
    #: experiments resolved later in the request carry its key in ``migration_keys``.
    previous_anonymous_id: str | None = None
    #: True once an experiment in this request was resolved for the anonymous actor: the
    #: cookie is then still needed and must not be deleted.
    anonymous_used: bool = False
    #: True when the cookie's identity was handed over to a known actor (login migration or a
    #: known actor resolved while the cookie was present): the response deletes the cookie.
    anonymous_resolved: bool = False
    #: Resolved experiments, memoised per (name, context) for the request.
    memo: dict[Any, Any] = field(default_factory=dict)
    #: ``{name: signature + excluded}`` of experiments published/run during the request.
    published: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Tracking events waiting to leave at the end of the request.
    events: list[dict[str, Any]] = field(default_factory=list)
    #: ``(experiment, key, phase)`` whose exposure was already recorded in this scope.
    assignment_seen: set[tuple[Any, ...]] = field(default_factory=set)
    #: What this scope knows the store holds, ``{(store name, key): variant or None}``
    #: (None: known to be absent): a new visitor's assignments, and what an explicit
    #: ``prefetch`` read. Reads are answered from here before the store is asked.
    known: dict[tuple[str, str], str | None] = field(default_factory=dict)
    #: Assignments of the visitor first seen in this scope, ``(store, name, key, variant)``,
    #: written together (one pipelined set-if-absent) by :meth:`close` before the response.
    pending: list[tuple[Any, str, str, str]] = field(default_factory=list)
    #: True while a shell (the middleware) will close the scope at the end of its unit of
    #: work: only then may writes and events wait for the end. Resolutions and events after
    #: that (a streaming body, code that bound the scope itself) act at once.
    deferring: bool = False
    #: ``{(partition label, context identities): slot}``: a context's slot in a namespace or
    #: the global holdout, hashed once per scope however many experiments share it.
    slots: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Free-form extras for shells around the engine (middleware, API).
    extra: dict[str, Any] = field(default_factory=dict)

    def anonymous_actor(self) -> str:
        """The identity of the anonymous actor, minting a cookie id when there is none."""
        self.anonymous_used = True
        if self.anonymous_id is None:
            if self.new_anonymous_id is None:
                self.new_anonymous_id = uuid.uuid4().hex
            return anonymous_identity(self.new_anonymous_id)
        return anonymous_identity(self.anonymous_id)


def current_scope() -> Scope | None:
    return _current.get()


@contextmanager
def activate(scope: Scope | None = None) -> Iterator[Scope]:
    """Bind a scope for the duration of the block (a request, a task, a test)."""
    scope = scope if scope is not None else Scope()
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
