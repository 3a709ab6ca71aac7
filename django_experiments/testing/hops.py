"""Count ``sync_to_async`` thread hops, by the function each one runs.

Every ``sync_to_async`` call sends work from the event loop to a worker thread and back: a
hop costs a context copy, two thread switches and, with ``thread_sensitive=True`` (the
default), a place in the one queue every sync part of every request shares. Under ASGI, how
many hops a page makes is a figure worth asserting on::

    from django_experiments.testing.hops import count_hops

    with count_hops() as hops:
        await request.aexperiment("cta")
    assert hops.total() <= 1

The counter patches ``asgiref.sync.SyncToAsync.__call__`` process-wide while installed, so it
sees hops made by Django and by other libraries too; :meth:`Hops.matching` filters by the
called function's dotted name.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import SyncToAsync


def label_of(func: Any) -> str:
    """``module.qualname`` of the function a hop runs (through partials and wrappers)."""
    inner = getattr(func, "func", None)  # functools.partial
    if inner is not None and not hasattr(func, "__qualname__"):
        func = inner
    module = getattr(func, "__module__", None) or "?"
    name = getattr(func, "__qualname__", None) or type(func).__qualname__
    return f"{module}.{name}"


class Hops:
    """Hops seen while installed, counted by :func:`label_of` the called function."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._original: Any = None

    def record(self, func: Any) -> None:
        label = label_of(func)
        with self._lock:
            self.counts[label] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def matching(self, prefix: str) -> int:
        """Hops whose called function's dotted name starts with ``prefix``."""
        with self._lock:
            return sum(n for label, n in self.counts.items() if label.startswith(prefix))

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    def install(self) -> None:
        if self._original is not None:
            return
        original = SyncToAsync.__call__
        hops = self

        async def counting(self: SyncToAsync[Any, Any], *args: Any, **kwargs: Any) -> Any:
            hops.record(self.func)
            return await original(self, *args, **kwargs)

        self._original = original
        SyncToAsync.__call__ = counting  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            SyncToAsync.__call__ = self._original  # type: ignore[method-assign]
            self._original = None


@contextmanager
def count_hops() -> Iterator[Hops]:
    """Count the hops made inside the block (in any task or thread of this process)."""
    hops = Hops()
    hops.install()
    try:
        yield hops
    finally:
        hops.uninstall()


def with_hops_endpoint(app: Any, hops: Hops, path: str = "/hops/") -> Any:
    """Wrap an ASGI app so that ``GET <path>`` returns ``{"hops": {function: count}}``.

    Answered before Django sees the request, so reading the counter adds no hop of its own;
    ``?reset=1`` clears it after reading. For test and benchmark servers only: it exposes
    internals and must never wrap a production application.
    """
    import json

    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != path:
            await app(scope, receive, send)
            return
        body = json.dumps({"hops": hops.snapshot()}).encode()
        if b"reset=1" in scope.get("query_string", b""):
            hops.reset()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return application
