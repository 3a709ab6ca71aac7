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

ANONYMOUS_PREFIX = "anon:"


@dataclass
class Scope:
    #: False when the visitor asked not to be tracked (DNT).
    trackable: bool = True
    #: ``{full experiment name: variant}`` requested through ``glex_force``; already
    #: permission-checked by the caller.
    forced: dict[str, str] = field(default_factory=dict)
    #: The anonymous actor id read from a valid signed cookie, if any.
    anonymous_id: str | None = None
    #: Set when an anonymous actor was needed and no cookie existed: the response writes it.
    new_anonymous_id: str | None = None
    #: The anonymous actor identity of a visitor who logged in during this request.
    previous_anonymous_id: str | None = None
    #: Resolved experiments, memoised per (name, context) for the request.
    memo: dict[Any, Any] = field(default_factory=dict)
    #: ``{name: signature + excluded}`` of experiments published/run during the request.
    published: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Tracking events waiting to leave at the end of the request.
    events: list[dict[str, Any]] = field(default_factory=list)
    #: ``(experiment, key)`` pairs whose assignment event was already emitted this request.
    assignment_seen: set[tuple[str, str]] = field(default_factory=set)
    #: Free-form extras for shells around the engine (middleware, API).
    extra: dict[str, Any] = field(default_factory=dict)

    def anonymous_actor(self) -> str:
        """The identity of the anonymous actor, minting a cookie id when there is none."""
        if self.anonymous_id is None:
            if self.new_anonymous_id is None:
                self.new_anonymous_id = uuid.uuid4().hex
            return ANONYMOUS_PREFIX + self.new_anonymous_id
        return ANONYMOUS_PREFIX + self.anonymous_id


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
