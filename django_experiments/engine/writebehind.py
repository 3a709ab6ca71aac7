"""Assignments of a visitor first seen in this request: no store reads, one deferred write.

A context whose actor is the anonymous id minted in this very request (a fresh uuid4) cannot
have anything stored, so reading the store for it is a wasted round trip. The engine answers
its reads from the scope and records its deterministic assignments there; at the end of the
request they leave together: by default handed to a background thread that writes many
requests' assignments in one pipelined round trip (``STORE_WRITE_BEHIND``), else written in one
batch on the request thread.

Writes are set-if-absent, so if the visitor's next request stored first (it resolves the same
deterministic variant), that entry stays. Only deterministic rollouts are deferred: should a
deferred write be lost (process killed before the thread ran, store down), the visitor's next
request derives the same variant again, unless the weights changed in between.
"""

from __future__ import annotations

from typing import Any

from django_experiments.background import BackgroundQueue
from django_experiments.conf import settings
from django_experiments.engine.scope import Scope, anonymous_identity
from django_experiments.engine.stores import Store, report_failure

#: ``(store, experiment store name, context key, variant)``
Pending = tuple[Store, str, str, str]

#: How long the writer waits for other requests' writes to join a round. Longer rounds cost
#: less CPU per write (docs/performance.md); short enough that the visitor's next page usually
#: finds its assignment stored, and the client events endpoint waits out the rest.
LINGER_SECONDS = 0.05


def fresh_scope(context: Any) -> Scope | None:
    """The scope when ``context`` belongs to the visitor first seen in this request."""
    scope: Scope | None = context.scope
    if scope is None or scope.new_anonymous_id is None or not scope.write_behind:
        return None
    if context.sticky_to is not None or context.migration_keys:
        return None
    if context.value.get("actor") != anonymous_identity(scope.new_anonymous_id):
        return None
    return scope


def may_be_pending(experiment: Any) -> bool:
    """An ``only_assigned`` miss that a first visit's deferred write may yet fill.

    Only a real miss (not a store error) of a trackable context in a running experiment that
    could have been deferred: write-behind on, no class rules, a deterministic rollout (an
    ``enabled()`` override does not matter: such classes defer too).
    """
    state = experiment._state
    definition = state.definition
    cls = type(experiment)
    return bool(
        settings.STORE_WRITE_BEHIND
        and state.only_assigned_miss
        and not state.store_error
        and state.stub is None
        and experiment.context.trackable
        and definition is not None
        and definition.status == "running"
        and not cls._has_rules
        and experiment._rollout().deterministic
    )


def defer(scope: Scope, store: Store, name: str, key: str, variant: str) -> None:
    scope.known[(name, key)] = variant
    scope.deferred.append((store, name, key, variant))


def flush_scope(scope: Scope) -> None:
    """Called once per request by the middleware, after the response is built.

    Resolutions after this point (a streaming response's body) write at once.
    """
    scope.write_behind = False
    pending = scope.deferred
    if not pending:
        return
    scope.deferred = []
    if settings.STORE_WRITE_BEHIND and writer.submit(pending):
        return
    write(pending)


def write_now(scope: Scope) -> None:
    """Write the scope's deferred assignments on this thread (before a login migration)."""
    pending, scope.deferred = scope.deferred, []
    if pending:
        write(pending)


def write(items: list[Pending]) -> None:
    """One ``put_many`` per store; a store failure is logged, never raised."""
    by_store: dict[Store, list[tuple[str, str, str]]] = {}
    for store, name, key, variant in items:
        by_store.setdefault(store, []).append((name, key, variant))
    for store, entries in by_store.items():
        try:
            store.put_many(entries)
        except Exception:
            report_failure(
                "Writing %d new assignment(s) to the %s store failed; the visitors' next "
                "requests will derive and store them again",
                len(entries),
                store.name,
            )


def _write_rounds(rounds: list[list[Pending]]) -> None:
    write([item for pending in rounds for item in pending])


writer: BackgroundQueue[list[Pending]] = BackgroundQueue(
    "django-experiments-store-writer", _write_rounds, linger=lambda: LINGER_SECONDS
)
