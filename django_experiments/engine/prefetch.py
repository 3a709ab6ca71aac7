"""One store round trip for a returning visitor's experiments, learned per route.

A page that resolves five experiments for a returning visitor would read the store five
times, one round trip each. Instead, the first store read of a request fetches, in one round
trip, the visitor's assignments for every experiment this route resolved on earlier requests;
later resolutions in the request find theirs on the scope. What a route resolves is learned at
the end of each request (process-local, bounded), so the first requests of a route after a
deploy, and experiments a route starts using, cost one round trip each as before.

Only contexts that are the actor alone (``request.experiment("x")``, the common case) take part,
and only when nothing needs moving (no migration keys): what is read is exactly what a
resolution would read. A miss (known absent) still goes through the store's get-or-set, so
stickiness and first-writer-wins are unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from django_experiments.engine import definitions as defs
from django_experiments.engine.context import key_for
from django_experiments.engine.scope import Scope
from django_experiments.engine.stores import Store, get_store

logger = logging.getLogger("django_experiments")

#: Routes remembered per process, least recently used dropped first.
MAX_ROUTES = 512
#: Experiments remembered per route.
MAX_NAMES = 32
#: Statuses whose resolution reads the store.
_READ_STATUSES = ("running", "paused")

_hints: OrderedDict[str, tuple[str, ...]] = OrderedDict()
_lock = threading.Lock()

#: Returned by :func:`lookup` when the request knows nothing about the field.
UNKNOWN: Any = object()


def learnable(context: Any) -> bool:
    """The context is the actor alone with nothing to migrate: what the prefetch reads."""
    return (
        len(context.value) == 1
        and "actor" in context.value
        and context.sticky_to is None
        and not context.migration_keys
    )


def eligible(scope: Scope | None, context: Any, store: Store) -> bool:
    """Whether this resolution may be answered from (and teach) the route's prefetch.

    Only through the configured store: a class with a store of its own must not fill the
    request's answers for the experiments that use the configured one.
    """
    return (
        scope is not None
        and scope.route_of is not None
        and learnable(context)
        and store is get_store()
    )


def lookup(scope: Scope, context: Any, store: Store, field: tuple[str, str]) -> Any:
    """The stored variant (None: absent) if the prefetch read it, else :data:`UNKNOWN`."""
    scope.store_names.add(context.experiment_name)
    if not scope.prefetched:
        scope.prefetched = True
        try:
            _prefetch(scope, context, store)
        except Exception:
            # Whatever failed (the store, the definitions), the resolutions read one by one.
            logger.debug("Prefetching assignments failed", exc_info=True)
    return scope.known.get(field, UNKNOWN)


def _prefetch(scope: Scope, context: Any, store: Store) -> None:
    route = _route(scope)
    names = _hints.get(route, ()) if route is not None else ()
    if len(names) < 2:  # nothing to gain over the resolution's own round trip
        return
    snapshot = defs.all_definitions()
    fields = []
    for full_name in names:
        definition = snapshot.get(_bare(full_name))
        if definition is None or definition.status not in _READ_STATUSES:
            continue
        fields.append((definition.store_name, key_for(full_name, context.value)))
    if len(fields) < 2:
        return
    values = store.get_many(fields)
    scope.known.update(zip(fields, values, strict=True))


def _bare(full_name: str) -> str:
    from django_experiments.engine.experiment import split_name

    return split_name(full_name)[0]


def _route(scope: Scope) -> str | None:
    route_of = scope.route_of
    try:
        route = route_of() if callable(route_of) else route_of
    except Exception:
        return None
    scope.route_of = route
    return route if isinstance(route, str) else None


def learn(scope: Scope) -> None:
    """Remember what the scope's route resolved (called once per request, at its end)."""
    if not scope.store_names or scope.route_of is None:
        return
    route = _route(scope)
    if route is None:
        return
    known = _hints.get(route)
    if known is not None and scope.store_names.issubset(known):
        # The usual case once a route is learned: nothing new, so no lock; one C-level
        # OrderedDict call is atomic under the GIL.
        with contextlib.suppress(KeyError):  # evicted meanwhile: learned again next time
            _hints.move_to_end(route)
        return
    with _lock:
        known = _hints.get(route, ())
        # This request's names last: the oldest unused ones are dropped first.
        fresh = sorted(scope.store_names)
        merged = (*(n for n in known if n not in scope.store_names), *fresh)[-MAX_NAMES:]
        if merged != known:
            _hints[route] = merged
        _hints.move_to_end(route)
        while len(_hints) > MAX_ROUTES:
            _hints.popitem(last=False)


def hint(route: str) -> tuple[str, ...]:
    return _hints.get(route, ())


def forget(routes: Iterable[str] | None = None) -> None:
    """Drop learned routes (all by default): tests, or after a deploy that renamed routes."""
    with _lock:
        if routes is None:
            _hints.clear()
        else:
            for route in routes:
                _hints.pop(route, None)
