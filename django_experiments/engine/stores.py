"""Where assignments stick: a Redis hash per experiment, any Django cache, or nothing.

Every store method may raise when its backend is down; the runtime experiment catches that and
falls back to deterministic assignment, so a store failure never reaches the caller.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zlib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from django.core.cache import caches
from django.utils.module_loading import import_string
from redis.exceptions import NoScriptError

from django_experiments.conf import settings
from django_experiments.engine.redis_wire import round_trip

logger = logging.getLogger("django_experiments")

COUNTER_FIELD = "__rr__"


class Store:
    """Interface; values are variant names (str)."""

    name = "base"

    def get(self, experiment: str, key: str, migration_keys: Sequence[str] = ()) -> str | None:
        """The stored variant for ``key``; a hit on a migration key moves it to ``key``."""
        raise NotImplementedError

    def set(self, experiment: str, key: str, variant: str) -> None:
        raise NotImplementedError

    def claim(
        self, experiment: str, key: str, variant: str, migration_keys: Sequence[str] = ()
    ) -> tuple[str, bool]:
        """Store ``variant`` for ``key`` unless a variant is stored (migrating as ``get`` does).

        Returns ``(the stored variant, whether it was stored by this call)``: the caller serves
        what was stored, so concurrent first assignments of one context agree (first writer
        wins). The built-in stores do this atomically; a custom store that does not override
        it gets this read-then-write version, which two racing writers can both pass.
        """
        current = self.get(experiment, key, migration_keys)
        if current is not None:
            return current, False
        self.set(experiment, key, variant)
        return variant, True

    def get_or_set(
        self, experiment: str, key: str, variant: str, migration_keys: Sequence[str] = ()
    ) -> str:
        """The stored variant, else ``variant`` stored now (:meth:`claim` without the flag)."""
        return self.claim(experiment, key, variant, migration_keys)[0]

    def get_many(self, fields: Sequence[tuple[str, str]]) -> list[str | None]:
        """The stored variant (or None) of each ``(experiment, key)``, in order.

        The explicit multi-read (``request.experiment.prefetch``); stores that can do it in one
        round trip override it.
        """
        return [self.get(experiment, key) for experiment, key in fields]

    def put_many(self, entries: Iterable[tuple[str, str, str]]) -> None:
        """Store each ``(experiment, key, variant)`` unless ``key`` already has a variant.

        The end-of-request write of a new visitor's assignments; stores that can batch
        override it.
        """
        for experiment, key, variant in entries:
            self.get_or_set(experiment, key, variant)

    def delete(self, experiment: str, key: str) -> None:
        raise NotImplementedError

    def clear(self, experiment: str) -> None:
        raise NotImplementedError

    def increment(self, experiment: str) -> int:
        """An atomic per-experiment counter (round-robin rollout)."""
        raise NotImplementedError

    def migrate(self, moves: Iterable[tuple[str, str, str]]) -> dict[str, str]:
        """Move ``(experiment, old_key, new_key)`` entries; the new key's value wins.

        Returns ``{experiment: variant now stored under new_key}`` for each moved entry.
        """
        moved: dict[str, str] = {}
        for experiment, old, new in moves:
            old_value = self.get(experiment, old)
            if old_value is None:
                continue
            current = self.get(experiment, new)
            if current is None:
                self.set(experiment, new, old_value)
            self.delete(experiment, old)
            moved[experiment] = current or old_value
        return moved


class NullStore(Store):
    """Deterministic only: nothing sticks beyond what the slot table gives."""

    name = "none"

    def get(self, experiment: str, key: str, migration_keys: Sequence[str] = ()) -> str | None:
        return None

    def set(self, experiment: str, key: str, variant: str) -> None:
        pass

    def claim(
        self, experiment: str, key: str, variant: str, migration_keys: Sequence[str] = ()
    ) -> tuple[str, bool]:
        return variant, True

    def put_many(self, entries: Iterable[tuple[str, str, str]]) -> None:
        pass

    def delete(self, experiment: str, key: str) -> None:
        pass

    def clear(self, experiment: str) -> None:
        pass

    def increment(self, experiment: str) -> int:
        # Without shared state a process-local counter is the best round-robin available.
        _local_counters[experiment] = _local_counters.get(experiment, 0) + 1
        return _local_counters[experiment]

    def migrate(self, moves: Iterable[tuple[str, str, str]]) -> dict[str, str]:
        return {}


_local_counters: dict[str, int] = {}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisHashStore(Store):
    """Assignments in Redis hashes through django-redis, field = context key.

    By default one hash per experiment (``<prefix>:<experiment>``): "clear this experiment" is
    one DEL. With ``STORE_BUCKETS = n`` each experiment is split into ``n`` small hashes
    (``<prefix>:{<experiment>}:<bucket>``) that Redis keeps in its compact listpack encoding
    while they hold at most ``hash-max-listpack-entries`` (512) fields: about half the memory
    per assignment for large experiments (docs/performance.md). The braces are a cluster hash
    tag, so one experiment's buckets share a slot and its scripts stay single-slot.
    """

    name = "redis"

    def __init__(
        self, alias: str | None = None, prefix: str | None = None, buckets: int | None = None
    ) -> None:
        self.alias = alias or settings.STORE_ALIAS
        self.prefix = prefix or settings.STORE_KEY_PREFIX
        self.buckets = int(settings.STORE_BUCKETS if buckets is None else buckets)

    @property
    def client(self) -> Any:
        from django_redis import get_redis_connection

        return get_redis_connection(self.alias)

    def hash_key(self, experiment: str, key: str = "") -> str:
        """The hash holding ``key``'s assignment."""
        if not self.buckets:
            return f"{self.prefix}:{experiment}"
        try:
            # Context keys are uniform hex: their first 8 digits spread them evenly.
            number = int(key[:8], 16)
        except ValueError:
            number = zlib.crc32(key.encode())
        return f"{self.prefix}:{{{experiment}}}:{number % self.buckets:x}"

    def attrs_key(self, experiment: str) -> str:
        return f"{self.prefix}:{experiment}:attrs"

    def get(self, experiment: str, key: str, migration_keys: Sequence[str] = ()) -> str | None:
        if not migration_keys:
            return _text(self.client.hget(self.hash_key(experiment, key), key))
        return self._script(experiment, key, "", migration_keys)

    def set(self, experiment: str, key: str, variant: str) -> None:
        self.client.hset(self.hash_key(experiment, key), key, variant)

    def claim(
        self, experiment: str, key: str, variant: str, migration_keys: Sequence[str] = ()
    ) -> tuple[str, bool]:
        """One atomic round trip for a new and a returning context alike (a Lua script)."""
        raw = self._run_script(experiment, key, variant, migration_keys)
        if not raw:  # cannot happen with a variant to store; be safe rather than crash
            return variant, False
        return _text(raw[0]) or variant, bool(int(raw[1]))

    def _script(
        self, experiment: str, key: str, variant: str, migration_keys: Sequence[str]
    ) -> str | None:
        raw = self._run_script(experiment, key, variant, migration_keys)
        return _text(raw[0]) if raw else None

    def _run_script(
        self, experiment: str, key: str, variant: str, migration_keys: Sequence[str]
    ) -> Any:
        keys = [self.hash_key(experiment, k) for k in (key, *migration_keys)]
        args = (len(keys), *keys, key, variant, *migration_keys)
        client = self.client
        try:
            return client.evalsha(_GET_OR_SET_SHA, *args)
        except NoScriptError:
            return client.eval(_GET_OR_SET_LUA, *args)

    def get_many(self, fields: Sequence[tuple[str, str]]) -> list[str | None]:
        """One round trip of HGETs."""
        commands = [("HGET", self.hash_key(experiment, key), key) for experiment, key in fields]
        return [_text(raw) for raw in round_trip(self.client, commands)]

    def put_many(
        self, entries: Iterable[tuple[str, str, str]], extra: Sequence[Sequence[Any]] = ()
    ) -> None:
        """One pipelined round trip: HSETNX, or one script per hash for several fields.

        ``extra``: raw commands sent in the same pipeline (the shell's event hand-off); any
        failure raises, so the caller knows they were not sent.
        """
        grouped: dict[str, list[str]] = {}
        for experiment, key, variant in entries:
            grouped.setdefault(self.hash_key(experiment, key), []).extend((key, variant))
        if not grouped and not extra:
            return
        commands: list[Sequence[Any]] = list(extra)
        for hash_key, pairs in grouped.items():
            if len(pairs) == 2:
                commands.append(("HSETNX", hash_key, *pairs))
            else:
                # One command for many fields: far less client-side packing than N HSETNX.
                commands.append(("EVAL", _PUT_MANY_LUA, 1, hash_key, *pairs))
        round_trip(self.client, commands)

    def delete(self, experiment: str, key: str) -> None:
        self.client.hdel(self.hash_key(experiment, key), key)

    def clear(self, experiment: str) -> None:
        client = self.client
        if not self.buckets:
            client.delete(self.hash_key(experiment), self.attrs_key(experiment))
            return
        client.delete(self.attrs_key(experiment))
        pattern = f"{self.prefix}:{{{experiment}}}:*"
        batch: list[Any] = []
        for name in client.scan_iter(match=pattern, count=1000):
            batch.append(name)
            if len(batch) >= 500:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)

    def increment(self, experiment: str) -> int:
        return int(self.client.hincrby(self.attrs_key(experiment), COUNTER_FIELD, 1))

    def migrate(self, moves: Iterable[tuple[str, str, str]]) -> dict[str, str]:
        """All moves in one pipelined round trip, atomically per experiment via a Lua script."""
        moves = list(moves)
        if not moves:
            return {}
        pipe = self.client.pipeline(transaction=False)
        # EVAL rather than a registered Script: redis-py loads pipelined scripts with an extra
        # blocking SCRIPT EXISTS (and maybe SCRIPT LOAD) round trip before the pipeline itself.
        # The script is a few hundred bytes and Redis caches it by hash after the first call.
        for experiment, old, new in moves:
            keys = (self.hash_key(experiment, old), self.hash_key(experiment, new))
            pipe.eval(_MIGRATE_LUA, 2, *keys, old, new)
        results = pipe.execute()
        return {
            experiment: value
            for (experiment, _, _), raw in zip(moves, results, strict=True)
            if (value := _text(raw)) is not None
        }


# KEYS[i] is the hash of the i-th context key: ARGV[1] (the current key), then ARGV[3...]
# (migration keys). The current key's value wins; else the first migration key's value moves
# to it; migration keys' entries are deleted either way. With nothing found and ARGV[2] not
# empty, ARGV[2] is stored (claim). Returns {variant, 1 if stored by this call else 0}, or nil
# when nothing is stored and ARGV[2] is empty (a read).
_GET_OR_SET_LUA = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
for i = 3, #ARGV do
  local old = redis.call('HGET', KEYS[i - 1], ARGV[i])
  if old then
    redis.call('HDEL', KEYS[i - 1], ARGV[i])
    if not current then
      current = old
      redis.call('HSET', KEYS[1], ARGV[1], old)
    end
  end
end
if current then return {current, 0} end
if ARGV[2] == '' then return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {ARGV[2], 1}
"""
_GET_OR_SET_SHA = hashlib.sha1(_GET_OR_SET_LUA.encode()).hexdigest()

# HSETNX for each (field, value) pair in ARGV: the first writer of an assignment wins.
_PUT_MANY_LUA = """
for i = 1, #ARGV, 2 do
  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 0
"""

# Move old → new unless new is already set (the user's own assignment wins); always drop old.
# KEYS: the hashes of the old and the new key (the same hash without buckets).
_MIGRATE_LUA = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
local current = redis.call('HGET', KEYS[2], ARGV[2])
if current then return current end
redis.call('HSET', KEYS[2], ARGV[2], old)
return old
"""


class CacheStore(Store):
    """Any Django cache alias; one cache entry per (experiment, context key)."""

    name = "cache"

    def __init__(self, alias: str | None = None, prefix: str | None = None) -> None:
        self.alias = alias or settings.STORE_ALIAS
        self.prefix = prefix or settings.STORE_KEY_PREFIX

    @property
    def cache(self) -> Any:
        return caches[self.alias]

    def entry(self, experiment: str, key: str) -> str:
        return f"{self.prefix}:{experiment}:{key}"

    def get(self, experiment: str, key: str, migration_keys: Sequence[str] = ()) -> str | None:
        cache = self.cache
        if not migration_keys:
            return _text(cache.get(self.entry(experiment, key)))
        entries = [self.entry(experiment, k) for k in (key, *migration_keys)]
        found = cache.get_many(entries)
        current = _text(found.get(entries[0]))
        for entry in entries[1:]:
            if entry in found:
                value = _text(found[entry])
                if current is None and value is not None:
                    # add, not set: a first assignment that landed meanwhile wins, as in the
                    # Redis store's script.
                    if cache.add(entries[0], value, None):
                        current = value
                    else:
                        current = _text(cache.get(entries[0])) or value
                cache.delete(entry)
                return current
        return current

    def set(self, experiment: str, key: str, variant: str) -> None:
        self.cache.set(self.entry(experiment, key), variant, None)

    def claim(
        self, experiment: str, key: str, variant: str, migration_keys: Sequence[str] = ()
    ) -> tuple[str, bool]:
        """``cache.add`` (atomic set-if-absent on every Django cache backend), after moving a
        migration key's value as :meth:`get` does; the loser of a race reads the winner's."""
        if migration_keys:
            current = self.get(experiment, key, migration_keys)
            if current is not None:
                return current, False
        cache = self.cache
        entry = self.entry(experiment, key)
        if cache.add(entry, variant, None):
            return variant, True
        current = _text(cache.get(entry))
        if current is None:  # deleted between the add and the read: try once more
            if cache.add(entry, variant, None):
                return variant, True
            current = _text(cache.get(entry))
        return current or variant, False

    def get_many(self, fields: Sequence[tuple[str, str]]) -> list[str | None]:
        entries = [self.entry(experiment, key) for experiment, key in fields]
        found = self.cache.get_many(entries)
        return [_text(found.get(entry)) for entry in entries]

    def put_many(self, entries: Iterable[tuple[str, str, str]]) -> None:
        cache = self.cache
        for experiment, key, variant in entries:
            cache.add(self.entry(experiment, key), variant, None)

    def delete(self, experiment: str, key: str) -> None:
        self.cache.delete(self.entry(experiment, key))

    def clear(self, experiment: str) -> None:
        # Plain caches cannot delete by prefix. Clearing is made effective by the experiment's
        # store generation (a new namespace, see Experiment.store_generation); backends that
        # can (django-redis) also drop the old entries now.
        delete_pattern = getattr(self.cache, "delete_pattern", None)
        if callable(delete_pattern):
            delete_pattern(f"{self.prefix}:{experiment}:*")
        self.cache.delete(f"{self.prefix}:{experiment}:rr")

    def increment(self, experiment: str) -> int:
        counter = f"{self.prefix}:{experiment}:rr"
        self.cache.add(counter, 0, None)
        return int(self.cache.incr(counter))


#: Seconds between two warnings of the same kind about a failing store (the rest are debug).
FAILURE_WARNING_INTERVAL = 60.0
#: Last warning time per message: a dead store fails on every request, or every write round.
_warned_at: dict[str, float] = {}


def report_failure(message: str, *args: Any) -> None:
    """Log a store failure (with its traceback): a warning once a minute per message."""
    now = time.monotonic()
    if now - _warned_at.get(message, -float("inf")) >= FAILURE_WARNING_INTERVAL:
        _warned_at[message] = now
        logger.warning(message, *args, exc_info=True)
    else:
        logger.debug(message, *args, exc_info=True)


STORES: dict[str, type[Store]] = {
    "redis": RedisHashStore,
    "cache": CacheStore,
    "none": NullStore,
}


@lru_cache(maxsize=16)
def _build(spec: str, alias: str, prefix: str, buckets: int = 0) -> Store:
    cls = STORES.get(spec) or import_string(spec)
    if cls is NullStore:
        return NullStore()
    if isinstance(cls, type) and issubclass(cls, RedisHashStore):
        return cls(alias=alias, prefix=prefix, buckets=buckets)
    return cls(alias=alias, prefix=prefix)


_current: list[Any] = [None, None]  # [settings generation, store]


def get_store() -> Store:
    """The configured store; built once per distinct configuration (settings can change)."""
    generation = settings.generation
    if _current[0] != generation or _current[1] is None:
        _current[1] = _build(
            settings.STORE, settings.STORE_ALIAS, settings.STORE_KEY_PREFIX, settings.STORE_BUCKETS
        )
        _current[0] = generation
    store: Store = _current[1]
    return store
