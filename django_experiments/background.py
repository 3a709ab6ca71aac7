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
        self.thread: threading.Thread | None = None
        self.pid: int | None = None
        self._exit_registered = False
        self._reset()
        # A forked child (gunicorn --preload) inherits the queue and the locks, possibly held
        # by a thread that does not exist there: rebuild them, start clean.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # SimpleQueue: a C-level put costs a fraction of queue.Queue's lock-and-condition put.
        # Bounding and join() use qsize() and counters instead.
        self.queue: queue.SimpleQueue[T] = queue.SimpleQueue()
        # Items are handled in submission order: ``done >= n`` means the first n are handled.
        self.submitted = 0
        self.done = 0
        self.count_lock = threading.Lock()
        self.lock = threading.Lock()
        # Set by flush() to cut the linger short.
        self.wake = threading.Event()
        self.thread = None
        self.pid = os.getpid()

    def submit(self, item: T) -> bool:
        """Queue ``item``; False when the caller must handle it itself."""
        if self.queue.qsize() >= self.maxsize or not self._ensure_thread():
            return False
        with self.count_lock:
            self.submitted += 1
        self.queue.put(item)
        return True

    def _ensure_thread(self) -> bool:
        """Whether the thread runs (starting it if needed); False when it cannot start."""
        thread = self.thread
        if thread is not None and thread.is_alive():
            return True
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                return True
            thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            try:
                thread.start()
            except RuntimeError:  # interpreter shutting down: the caller does the work
                return False
            self.thread = thread
            if not self._exit_registered:
                self._exit_registered = True
                atexit.register(self.drain)
            return True

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
        """Handle what is queued now, without waiting out the linger; True when done.

        Waits for the items submitted before the call only, not for later ones: under steady
        traffic the queue is never empty, but what this caller queued is soon handled.
        """
        with self.count_lock:
            target = self.submitted
        if self.done >= target:
            return True
        self.wake.set()
        deadline = time.monotonic() + timeout
        while self.done < target:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        return True

    def drain(self, timeout: float = 2.0) -> None:
        """Handle what is left (registered with atexit).

        The thread, if alive, gets ``timeout`` seconds to finish what it holds; what is
        still queued after that is handled on the calling thread.
        """
        if self.pid != os.getpid():  # registered by a parent: its items are not ours
            return
        thread = self.thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            self.wake.set()  # what the thread holds must not wait out its linger
            self.join(timeout)
        while True:
            items = self._take(self.max_items)
            if not items:
                return
            self._handle(items)
