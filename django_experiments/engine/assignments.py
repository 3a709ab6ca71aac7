"""Store access for resolution: read, claim, overwrite, a new visitor's writes, the multi-read.

Every function here may raise when the store's backend is down; the facade
(engine/experiment.py) catches that and serves the deterministic assignment.

Three cheap, synchronous rules keep round trips down without any background work:

* A context whose actor is the anonymous id minted in this very scope (a brand-new visitor)
  cannot have anything stored: its reads are answered from the scope, and its assignments are
  written together by :func:`write_pending`, one pipelined set-if-absent, which the middleware
  calls before the response (and so before the cookie that reveals the id) leaves.
* A returning anonymous visitor (the cookie's id) needs no read where the store can only hold
  what the slot table says: a deterministic rollout, no rules, a slot whose owner never
  changed in any phase (``Definition.unchanged``), and no variant of theirs chosen by hand
  (``Scope.hand_picked``, which the cookie remembers). Such a *predictable* claim is queued
  like a new visitor's and written by the same set-if-absent pipeline: a no-op when it is
  already stored, the first write of an experiment the visitor had not seen yet otherwise.
* Any other context reads and, if new, claims its variant in one round trip
  (:meth:`Store.claim`).
* :func:`prefetch` reads several experiments for one context in one round trip, on request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django_experiments.engine.context import Context
from django_experiments.engine.scope import Scope, anonymous_identity
from django_experiments.engine.stores import NullStore, RedisHashStore, Store, report_failure


def fresh_scope(context: Context) -> Scope | None:
    """The scope, when ``context`` belongs to the visitor first seen in it and the scope's
    shell will write its pending assignments at the end (``Scope.deferring``)."""
    return _deferring_visitor(context, new=True)


def predictable_scope(context: Context) -> Scope | None:
    """The scope, when ``context`` is its returning anonymous visitor (the cookie's id) and
    the scope's shell will write pending assignments; None when hand-picked variants (or
    anything but that visitor's own context) make the store's content unknowable."""
    scope = _deferring_visitor(context, new=False)
    return None if scope is None or scope.hand_picked else scope


def _deferring_visitor(context: Context, new: bool) -> Scope | None:
    """The deferring scope whose anonymous visitor (the id minted in it if ``new``, else the
    cookie's) is ``context``'s whole identity: no explicit key, no migration keys."""
    scope = context.scope
    if scope is None or not scope.deferring:
        return None
    anonymous_id = scope.new_anonymous_id if new else scope.anonymous_id
    if anonymous_id is None or context.sticky_to is not None or context.migration_keys:
        return None
    if context.value.get("actor") != anonymous_identity(anonymous_id):
        return None
    return scope


def _own_anonymous(context: Context) -> Scope | None:
    """The scope, when ``context`` is the anonymous actor of its scope (new or returning)."""
    scope = context.scope
    if scope is None or context.sticky_to is not None:
        return None
    actor = context.value.get("actor")
    for anonymous_id in (scope.anonymous_id, scope.new_anonymous_id):
        if anonymous_id is not None and actor == anonymous_identity(anonymous_id):
            return scope
    return None


def read(store: Store, name: str, context: Context) -> str | None:
    """The stored variant (a migration key's value moves to the context's key)."""
    field = (name, context.key)
    scope = context.scope
    if scope is not None and field in scope.known:
        return scope.known[field]
    if fresh_scope(context) is not None:
        return None
    return store.get(name, context.key, context.migration_keys)


def claim(
    store: Store, name: str, context: Context, variant: str, predictable: bool = False
) -> tuple[str, bool]:
    """Store ``variant`` unless something is stored; ``(stored variant, stored now)``.

    ``predictable``: the store can only hold ``variant`` for this context if it holds
    anything (see the module's docstring); for the scope's returning visitor the write then
    waits for the end of the scope, and no read is made.
    """
    field = (name, context.key)
    scope = context.scope
    if scope is not None:
        known = scope.known.get(field)
        if known is not None:
            return known, False
    fresh = fresh_scope(context)
    if fresh is None and predictable:
        fresh = predictable_scope(context)
    if fresh is not None:
        # Nobody else knows this id yet: the write can wait for the end of the scope.
        fresh.known[field] = variant
        fresh.pending.append((store, name, context.key, variant))
        return variant, True
    stored, created = store.claim(name, context.key, variant, context.migration_keys)
    if scope is not None:
        scope.known[field] = stored
    return stored, created


def overwrite(
    store: Store, name: str, context: Context, variant: str, hand_picked: bool = True
) -> None:
    """Store ``variant`` whatever was stored: explicit and forced variants (``hand_picked``),
    and a rollout's choice over a stored name that is no longer a variant."""
    own = _own_anonymous(context) if hand_picked else None
    if own is not None and not own.hand_picked:
        # From now on this visitor's stored variants may differ from the slot tables: the
        # cookie says so, and their claims are no longer predicted.
        own.hand_picked = own.hand_picked_now = True
    scope = context.scope
    if scope is not None:
        scope.known[(name, context.key)] = variant
        if scope.pending:
            # The pending write is set-if-absent: drop an earlier pending value for this field.
            scope.pending = [p for p in scope.pending if (p[1], p[2]) != (name, context.key)]
    store.set(name, context.key, variant)


def write_pending(scope: Scope, carry: tuple[str, Sequence[Any]] | None = None) -> bool:
    """Write the new visitor's assignments: one ``put_many`` (a pipeline) per store.

    Called when the scope closes, before its response leaves, and by the login migration
    (which must find them stored). A failure is logged, never raised: the visitor's next
    request derives (and stores) the same deterministic variants, and other rollouts draw
    again.

    ``carry`` is ``(cache alias, raw Redis command)``: one more command for the same
    pipeline when a Redis store on that alias is written (the shell's events ride along, so
    both cost one round trip). Returns True when it was sent with the writes.
    """
    pending, scope.pending = scope.pending, []
    if not pending:
        return False
    by_store: dict[Store, list[tuple[str, str, str]]] = {}
    for store, name, key, variant in pending:
        by_store.setdefault(store, []).append((name, key, variant))
    carried = False
    for store, entries in by_store.items():
        try:
            if (
                carry is not None
                and not carried
                and isinstance(store, RedisHashStore)
                and store.alias == carry[0]
            ):
                store.put_many(entries, (carry[1],))
                carried = True
            else:
                store.put_many(entries)
        except Exception:
            report_failure(
                "Writing %d new assignment(s) to the %s store failed; the visitor's next "
                "request assigns again",
                len(entries),
                store.name,
            )
    return carried


def prefetch(store: Store, scope: Scope, fields: Iterable[tuple[str, Context]]) -> int:
    """Read ``(store name, context)`` fields not known yet in one ``get_many``; returns how
    many were read. Hits and absences are remembered on the scope: a later claim of an absent
    field is still atomic (the store decides), it just skips the separate read."""
    wanted: list[tuple[str, str]] = []
    for name, context in fields:
        field = (name, context.key)
        if field in scope.known or context.migration_keys or fresh_scope(context) is not None:
            continue
        wanted.append(field)
    if not wanted or type(store) is NullStore:
        return 0
    values = store.get_many(wanted)
    for field, value in zip(wanted, values, strict=True):
        scope.known[field] = value
    return len(wanted)
