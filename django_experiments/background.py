"""A daemon thread that takes work off the request path and does it in bulk.

Requests hand items over with a queue put (a fraction of a microsecond); the thread wakes on
the first item, optionally lingers so that more requests' items join it, then hands everything
queued to one ``handle(items)`` call. Under load that turns N publishes or N store writes into
one, which is what keeps the thread's CPU (and its fight with request threads for the GIL)
small.

Used by the tracking publisher (batches of events to the broker) and the assignment
write-behind (fresh visitors' assignments to the store).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connections

logger = logging.getLogger("django_experiments")

T = TypeVar("T")


class BackgroundQueue(Generic[T]):
    """A bounded hand-over queue drained by one daemon thread per process.

    ``submit`` returns False when the queue is full: the caller then does the work itself
    (back-pressure, nothing dropped). At interpreter exit what is left is handled on the
    exiting thread (:meth:`drain`). A process killed with SIGKILL loses what is still queued:
    at most the linger period's worth of items.
    """

    def __init__(
        self,
        name: str,
        handle: Callable[[list[T]], None],
        *,
        linger: Callable[[], float] = lambda: 0.0,
        maxsize: int = 10_000,
        max_items: int = 5_000,
    ) -> None:
        self.name = name
        self.handle = handle
        self.linger = linger
        self.maxsize = maxsize
        self.max_items = max_items
        # SimpleQueue: a C-level put costs a fraction of queue.Queue's lock-and-condition put.
        # Bounding and join() use qsize() and an in-flight count instead.
        self.queue: queue.SimpleQueue[T] = queue.SimpleQueue()
        # submitted - done = items queued or being handled (join() waits for 0).
        self.submitted = 0
        self.done = 0
        self.count_lock = threading.Lock()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid: int | None = None
        # Set by flush() to cut the linger short.
        self.wake = threading.Event()

    def submit(self, item: T) -> bool:
        """Queue ``item``; False when the caller must handle it itself."""
        self._ensure_thread()
        if self.queue.qsize() >= self.maxsize:
            return False
        with self.count_lock:
            self.submitted += 1
        self.queue.put(item)
        return True

    def _ensure_thread(self) -> None:
        pid = os.getpid()
        thread = self.thread
        if thread is not None and self.pid == pid and thread.is_alive():
            return
        with self.lock:
            if self.thread is not None and self.pid == pid and self.thread.is_alive():
                return
            if self.pid != pid:
                # A forked worker (gunicorn --preload) inherits the parent's queue object but
                # not its thread: start clean.
                self.queue = queue.SimpleQueue()
                self.submitted = self.done = 0
                atexit.register(self.drain)
            self.pid = pid
            self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self.thread.start()

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            linger = self.linger()
            if linger > 0 and not self.wake.is_set():
                self.wake.wait(linger)
            self.wake.clear()
            self._handle([first, *self._take(self.max_items - 1)])

    def _take(self, limit: int) -> list[T]:
        items: list[T] = []
        while len(items) < limit:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _handle(self, items: list[T]) -> None:
        try:
            self.handle(items)
        except Exception:
            logger.exception("%s: handling %d queued item(s) failed", self.name, len(items))
        finally:
            with self.count_lock:
                self.done += len(items)
            # Handlers may open a DB connection (the outbox) on this long-lived thread; do not
            # keep it open between rounds (it would pin a server connection forever).
            if threading.current_thread() is not threading.main_thread():
                connections.close_all()

    def pending(self) -> int:
        with self.count_lock:
            return self.submitted - self.done

    def join(self, timeout: float = 10.0) -> bool:
        """Wait until every queued item is handled (tests, graceful shutdown)."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Handle what is queued now, without waiting out the linger; True when done."""
        self.wake.set()
        return self.join(timeout)

    def drain(self, timeout: float = 2.0) -> None:
        """Handle what is left (registered with atexit).

        The thread, if alive, gets ``timeout`` seconds to finish what it holds; what is
        still queued after that is handled on the calling thread.
        """
        thread = self.thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            self.join(timeout)
        while True:
            items = self._take(self.max_items)
            if not items:
                return
            self._handle(items)
