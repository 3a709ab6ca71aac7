"""A real HTTP collector for ``HttpSink`` that a test can make fail, hang and recover.

It records every event id it receives (with the times of the first and latest copy), so a
test can count what was delivered, what arrived twice, and how long each event took.
``status`` is what it answers (500 to simulate an outage; ``fail_first_attempts`` fails each
batch once). ``hold_next()`` makes it keep the next request open, after reading and recording
the body, until ``release()``: a worker killed while it waits has delivered a batch whose
answer it never saw.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Collector:
    def __init__(self) -> None:
        self.status = 200
        #: Answer 500 to every batch holding an event not posted before: each batch's first
        #: attempt fails, its retry gets ``status``.
        self.fail_first_attempts = False
        self._attempted: set[str] = set()
        self.hits = 0
        self.errors_answered = 0
        #: Copies received per event id (only bodies answered with a 2xx count as delivered).
        self.received: Counter[str] = Counter()
        #: First receipt of each event id, time.monotonic().
        self.first_seen: dict[str, float] = {}
        #: Latest receipt of each event id (a redelivered copy), time.monotonic().
        self.last_seen: dict[str, float] = {}
        #: ``properties["seq"]`` of each received "chaos" event.
        self.seqs: Counter[int] = Counter()
        self.cond = threading.Condition()
        self._hold = False
        self._held = threading.Event()
        self._release = threading.Event()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                events = json.loads(self.rfile.read(length))["events"]
                with collector.cond:
                    collector.hits += 1
                    status = collector.status
                    ids = {event["id"] for event in events}
                    if collector.fail_first_attempts and not ids <= collector._attempted:
                        status = 500
                    collector._attempted |= ids
                    hold = collector._hold
                    collector._hold = False
                    if 200 <= status < 300:
                        collector._record(events)
                    else:
                        collector.errors_answered += 1
                    collector.cond.notify_all()
                if hold:
                    collector._held.set()
                    collector._release.wait(60)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the sender died while we held its request

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/collect"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _record(self, events: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        for event in events:
            self.received[event["id"]] += 1
            self.first_seen.setdefault(event["id"], now)
            self.last_seen[event["id"]] = now
            if event.get("event") == "chaos":
                self.seqs[int(event["properties"]["seq"])] += 1

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def hold_next(self) -> None:
        """Record the next 2xx batch, then keep its request open until ``release()``."""
        with self.cond:
            self._hold = True
            self._held.clear()
            self._release.clear()

    def wait_held(self, timeout: float = 30.0) -> None:
        if not self._held.wait(timeout):
            raise AssertionError(f"no batch reached the collector in {timeout}s")

    def release(self) -> None:
        self._release.set()

    def duplicates(self) -> int:
        """Copies beyond the first, over all event ids."""
        with self.cond:
            return sum(n - 1 for n in self.received.values())

    def wait_for(self, predicate: Callable[[Collector], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"collector timed out after {timeout}s: {self.hits} hits, "
                        f"{len(self.seqs)} distinct chaos events"
                    )
                self.cond.wait(min(remaining, 0.5))
