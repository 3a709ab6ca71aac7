"""The rate limiters' cache: the shared cache, or a process-local one while it is down.

DRF's throttles call ``cache.get`` / ``cache.set`` unguarded, so a Redis outage turned every
throttled request into a 500. Here a failing call is answered by a process-local
``LocMemCache`` instead, and the shared cache is not tried again for ``RETRY_SECONDS`` (every
request would otherwise pay a connection timeout). While the shared cache is down each process
counts on its own: a visitor spread over N processes gets up to N times the rate, but is still
limited. One warning a minute says so (``stores.report_failure``).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from django.core.cache import cache as default_cache
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache

from django_experiments.engine.stores import report_failure

#: Seconds during which a failed shared cache is left alone and the local one answers.
RETRY_SECONDS = 5.0
#: Bound on the local cache (one entry per throttled visitor and window).
LOCAL_MAX_ENTRIES = 100_000


class FallbackCache:
    """``get``/``set``/``add``/``incr`` on ``primary``, on a local cache when it fails."""

    def __init__(self, primary: BaseCache | Any = default_cache) -> None:
        self.primary = primary
        # LocMemCache shares storage by name: a unique one per instance (ids are reused).
        self.local = LocMemCache(
            f"django_experiments-throttle-{uuid.uuid4().hex}",
            {"OPTIONS": {"MAX_ENTRIES": LOCAL_MAX_ENTRIES}},
        )
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        """Whether the local cache is answering (the shared one failed less than
        ``RETRY_SECONDS`` ago)."""
        return time.monotonic() < self._down_until

    def reset(self) -> None:
        """Forget the local counts and try the shared cache again (tests)."""
        self.local.clear()
        self._down_until = 0.0

    def _call(self, method: str, *args: Any) -> Any:
        if not self.degraded:
            try:
                return getattr(self.primary, method)(*args)
            except ValueError:
                if method == "incr":
                    raise  # a missing key: an answer, not a failure
                self._failed()
            except Exception:
                self._failed()
        return getattr(self.local, method)(*args)

    def _failed(self) -> None:
        with self._lock:
            self._down_until = time.monotonic() + RETRY_SECONDS
        report_failure(
            "Rate-limit cache unavailable; counting in this process for %ss", RETRY_SECONDS
        )

    def get(self, key: str, default: Any = None) -> Any:
        return self._call("get", key, default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        self._call("set", key, value, timeout)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        return bool(self._call("add", key, value, timeout))

    def incr(self, key: str, delta: int = 1) -> int:
        return int(self._call("incr", key, delta))

    def count(self, key: str, delta: int, timeout: float) -> int:
        """Add ``delta`` to the counter ``key`` (created with ``timeout``); the new total."""
        self.add(key, 0, timeout)
        try:
            return self.incr(key, delta)
        except ValueError:  # expired between add and incr: start a fresh window
            self.set(key, delta, timeout)
            return delta


#: The one instance the throttles and the per-context limit share.
throttle_cache = FallbackCache()
