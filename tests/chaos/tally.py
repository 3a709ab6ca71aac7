"""What a chaos test counts and prints: requests, 500s, events sent, delivered, duplicated."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.test import Client


@dataclass
class Tally:
    name: str
    requests: int = 0
    server_errors: int = 0
    #: Sequence numbers of the "chaos" events the site accepted (the request answered 200).
    sent: set[int] = field(default_factory=set)
    slowest_request: float = 0.0
    #: Seconds each request took, in order.
    durations: list[float] = field(default_factory=list)
    next_seq: int = 0

    def request(self, client: Client, experiment: str, events: int = 1) -> Any:
        """One GET through the full stack that tracks ``events`` new "chaos" events."""
        seqs = list(range(self.next_seq, self.next_seq + events))
        self.next_seq += events
        query = "&".join(f"seq={s}" for s in seqs)
        response = self._timed(lambda: client.get(f"/chaos/track/{experiment}/?{query}"))
        if response.status_code == 200:
            self.sent.update(seqs)
        return response

    def client_events(self, client: Client, experiment: str, events: int = 1) -> Any:
        """One POST to the browser events endpoint with ``events`` new "chaos" events.

        They count as sent only when the endpoint accepted them: it ignores (202, "ignored")
        the events of a visitor it cannot confirm as assigned, by design.
        """
        seqs = list(range(self.next_seq, self.next_seq + events))
        self.next_seq += events
        body = {
            "events": [
                {"experiment": experiment, "event": "chaos", "properties": {"seq": s}} for s in seqs
            ]
        }
        response = self._timed(
            lambda: client.post(
                "/experiments/events/", data=json.dumps(body), content_type="application/json"
            )
        )
        if response.status_code == 202 and response.json()["accepted"] == events:
            self.sent.update(seqs)
        return response

    def api(self, client: Client, experiment: str) -> Any:
        """One GET of the client assignments API."""
        return self._timed(
            lambda: client.get(f"/experiments/assignments/?experiments={experiment}")
        )

    def _timed(self, call: Callable[[], Any]) -> Any:
        started = time.monotonic()
        response = call()
        took = time.monotonic() - started
        self.durations.append(took)
        self.slowest_request = max(self.slowest_request, took)
        self.requests += 1
        if response.status_code >= 500:
            self.server_errors += 1
        return response

    def line(self, delivered: Iterable[int], duplicated: int, **extra: Any) -> str:
        delivered_seqs = set(delivered)
        lost = len(self.sent - delivered_seqs)
        parts = [
            f"[chaos] {self.name}:",
            f"{self.requests} requests,",
            f"{self.server_errors} x 500,",
            f"{len(self.sent)} events sent,",
            f"{len(self.sent & delivered_seqs)} delivered,",
            f"{duplicated} duplicated,",
            f"{lost} lost,",
            f"slowest request {self.slowest_request * 1000:.0f} ms",
        ]
        parts += [f"| {key.replace('_', ' ')} {value}" for key, value in extra.items()]
        return " ".join(parts)
