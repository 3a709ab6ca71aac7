"""Benchmark-only scratch copies of proposed engine changes, applied by monkeypatching.

The engine files belong to other engineers: nothing here is imported by django_experiments.
Each proposal is a context manager that patches, yields, and restores, so the suite can
measure the same operation before and after in one run.
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


@contextmanager
def store_fast_path() -> Iterator[None]:
    """experiment.py ``_store_get``/``_store_set``: look the store up once, skip a NullStore.

    Today each resolution calls ``get_store()`` twice (three settings reads and an lru_cache
    call each), and with the null store still derives ``migration_keys`` and calls two no-op
    methods. The proposal: ``store = self.store`` once, and ``if store.name == "none"`` return
    before touching keys (the resolution result is the same: NullStore stores nothing).
    """
    from django_experiments.engine import experiment as exp_mod
    from django_experiments.engine.stores import NullStore

    cls = exp_mod.Experiment
    originals = {name: cls.__dict__.get(name) for name in _STORE_METHODS}

    def store_get(self: Any) -> str | None:
        if isinstance(_store_of(self), NullStore):
            return None
        return originals["_store_get"](self)  # type: ignore[misc]

    def store_set(self: Any, variant: str) -> None:
        if isinstance(_store_of(self), NullStore):
            return
        originals["_store_set"](self, variant)  # type: ignore[misc]

    def store_get_or_set(self: Any, variant: str) -> str | None:
        if isinstance(_store_of(self), NullStore):
            return variant
        return originals["_store_get_or_set"](self, variant)  # type: ignore[misc]

    saved = _swap(
        cls,
        {
            "_store_get": store_get,
            "_store_set": store_set,
            "_store_get_or_set": store_get_or_set,
        },
    )
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(cls, name, value)


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
                    pipe.hset(store.hash_key(name), key, variant)
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


@contextmanager
def cheap_publish() -> Iterator[None]:
    """dispatch.py ``publish``: pass ``argsrepr``/``kwargsrepr`` to ``apply_async``.

    Without them Celery builds ``saferepr(kwargs)`` of the whole event batch for the message
    headers (celery/app/amqp.py ``as_task_v2``) on every publish — on the request path.
    """
    from django_experiments.tracking import tasks

    task = tasks.deliver

    class Deliver:
        def __getattr__(self, name: str) -> Any:
            return getattr(task, name)

        def apply_async(self, **options: Any) -> Any:
            events = options.get("kwargs", {}).get("events", ())
            options.setdefault("argsrepr", "()")
            options.setdefault("kwargsrepr", f"{{'events': <{len(events)} events>}}")
            return task.apply_async(**options)

    tasks.deliver = Deliver()  # type: ignore[assignment]
    try:
        yield
    finally:
        tasks.deliver = task


@contextmanager
def cheap_events() -> Iterator[None]:
    """events.py ``validate_properties``: no JSON dumps+loads round trip for ``{}``.

    Most tracked events carry no properties; the round trip exists to normalise non-empty
    ones, so an empty dict can be returned as is.
    """
    from django_experiments.tracking import events

    saved = events.validate_properties

    def validate(properties: Any) -> dict[str, Any]:
        if type(properties) is dict and not properties:
            return {}
        return saved(properties)

    events.validate_properties = validate
    try:
        yield
    finally:
        events.validate_properties = saved


@contextmanager
def lean_database_sink() -> Iterator[None]:
    """sinks.py ``DatabaseSink.send``: one ``executemany`` INSERT … ON CONFLICT DO NOTHING.

    ``bulk_create`` builds a model instance per event and runs the SQL compiler's per-field
    ``prepare_value`` / ``pre_save`` for every cell; the proposal prepares each column once
    with ``get_db_prep_save`` and hands the rows to the DB-API cursor (SQLite ≥ 3.24 and
    PostgreSQL both support ``ON CONFLICT (event_id) DO NOTHING``, keeping redelivery
    idempotent).
    """
    from django.db import connections, router
    from django.utils import timezone

    from django_experiments.tracking import sinks
    from django_experiments.tracking.models import TrackedEvent

    saved = sinks.DatabaseSink.send
    columns = [
        "event_id",
        "event",
        "experiment",
        "variant",
        "key",
        "migration_keys",
        "value",
        "properties",
        "timestamp",
        "received_at",
    ]

    def send(self: Any, events: Any) -> None:
        alias = router.db_for_write(TrackedEvent)
        connection = connections[alias]
        fields: list[Any] = [TrackedEvent._meta.get_field(c) for c in columns]
        now = timezone.now()
        rows = []
        for event in events:
            row = sinks._to_row(event)
            if row is None:
                sinks.logger.error("DatabaseSink dropped a malformed event: %r", event)
                continue
            row["received_at"] = now
            rows.append(
                [
                    f.get_db_prep_save(row[c], connection)
                    for f, c in zip(fields, columns, strict=True)
                ]
            )
        if not rows:
            return
        qn = connection.ops.quote_name
        sql = (
            f"INSERT INTO {qn(TrackedEvent._meta.db_table)} "
            f"({', '.join(qn(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT ({qn('event_id')}) DO NOTHING"
        )
        from django.db import transaction

        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    sinks.DatabaseSink.send = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        sinks.DatabaseSink.send = saved  # type: ignore[method-assign]


PATCHES: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "store_fast_path": store_fast_path,
    "request_store_batching": request_store_batching,
    "cheap_publish": cheap_publish,
    "cheap_events": cheap_events,
    "lean_database_sink": lean_database_sink,
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
