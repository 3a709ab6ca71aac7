"""Benchmark-only scratch copies of proposed engine changes, applied by monkeypatching.

The engine files belong to other engineers: nothing here is imported by django_experiments.
Each proposal is a context manager that patches, yields, and restores, so the suite can
measure the same operation before and after in one run. Proposals the engine has since
adopted (NullStore fast path, cheap publish/events, executemany database sink) are gone from
here: the base rows measure them now.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any


def _store_of(experiment: Any) -> Any:
    """The experiment's store, through the per-resolution cache when the engine has one."""
    getter = getattr(experiment, "_store", None)
    return getter() if callable(getter) else experiment.store


def _swap(cls: Any, replacements: dict[str, Any]) -> dict[str, Any]:
    """Set the methods that exist on ``cls``; return the originals to restore."""
    saved = {name: cls.__dict__[name] for name in replacements if name in cls.__dict__}
    for name in saved:
        setattr(cls, name, replacements[name])
    return saved


_STORE_METHODS = ("_store_get", "_store_set", "_store_get_or_set")


PENDING = "bench_pending_writes"


@contextmanager
def request_store_batching() -> Iterator[None]:
    """Fewer Redis round trips per request (full stack): 1 for 5 experiments, new visitor.

    1. experiment.py ``_store_get`` / ``_store_get_or_set``: a context whose actor is the
       anonymous id the middleware minted in this very request (``scope.new_anonymous_id``, a
       fresh uuid4) cannot have a stored assignment: skip the read.
    2. experiment.py ``_store_set`` (and the write of ``_store_get_or_set`` for such a
       visitor): inside a scope, queue the HSET on the scope (the variant is
       already decided and returned); middleware.py ``flush`` writes every queued assignment in
       one pipeline at response end. Only for deterministic rollouts: a random/round-robin
       assignment should still be written at once.
    """
    from django_experiments import middleware
    from django_experiments.engine import experiment as exp_mod
    from django_experiments.engine.scope import anonymous_identity
    from django_experiments.engine.stores import RedisHashStore

    cls = exp_mod.Experiment
    originals = {name: cls.__dict__.get(name) for name in _STORE_METHODS}
    saved_flush = middleware.flush

    def fresh_visitor(self: Any) -> bool:
        scope = self.context.scope
        return bool(
            scope is not None
            and scope.new_anonymous_id is not None
            and self.context.value.get("actor") == anonymous_identity(scope.new_anonymous_id)
            and not self.context.migration_keys
        )

    def queue(self: Any, variant: str) -> bool:
        store = _store_of(self)
        if self.context.scope is None or not isinstance(store, RedisHashStore):
            return False
        pending = self.context.scope.extra.setdefault(PENDING, [])
        pending.append((store, self.definition.store_name, self.context.key, variant))
        return True

    def store_get(self: Any) -> str | None:
        if fresh_visitor(self):
            return None
        return originals["_store_get"](self)  # type: ignore[misc]

    def store_set(self: Any, variant: str) -> None:
        if not queue(self, variant):
            originals["_store_set"](self, variant)  # type: ignore[misc]

    def store_get_or_set(self: Any, variant: str) -> str | None:
        # A just-minted visitor has nothing stored: the write alone, queued for the pipeline.
        if fresh_visitor(self) and queue(self, variant):
            return variant
        return originals["_store_get_or_set"](self, variant)  # type: ignore[misc]

    def flush(scope: Any) -> None:
        pending = scope.extra.pop(PENDING, None)
        if pending:
            try:
                pipe = pending[0][0].client.pipeline(transaction=False)
                for store, name, key, variant in pending:
                    pipe.hset(store.hash_key(name, key), key, variant)
                pipe.execute()
            except Exception:
                exp_mod._store_failed("write")
        saved_flush(scope)

    saved = _swap(
        cls,
        {
            "_store_get": store_get,
            "_store_set": store_set,
            "_store_get_or_set": store_get_or_set,
        },
    )
    middleware.flush = flush
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(cls, name, value)
        middleware.flush = saved_flush


PATCHES: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "request_store_batching": request_store_batching,
}

#: Set in subprocesses (gunicorn, Celery worker) to run them with proposals applied.
ENV = "BENCH_PROPOSALS"

_applied = ExitStack()


@contextmanager
def applied(*names: str) -> Iterator[None]:
    with ExitStack() as stack:
        for name in names:
            stack.enter_context(PATCHES[name]())
        yield


def apply_from_env() -> list[str]:
    """Apply the proposals named in ``$BENCH_PROPOSALS`` for the life of the process."""
    names = [n for n in os.environ.get(ENV, "").split(",") if n]
    for name in names:
        _applied.enter_context(PATCHES[name]())
    return names
