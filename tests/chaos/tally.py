"""What a chaos test counts and prints: requests, 500s, events sent, delivered, duplicated."""

from __future__ import annotations

from collections.abc import Iterable
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
        import time

        seqs = list(range(self.next_seq, self.next_seq + events))
        self.next_seq += events
        query = "&".join(f"seq={s}" for s in seqs)
        started = time.monotonic()
        response = client.get(f"/chaos/track/{experiment}/?{query}")
        took = time.monotonic() - started
        self.durations.append(took)
        self.slowest_request = max(self.slowest_request, took)
        self.requests += 1
        if response.status_code >= 500:
            self.server_errors += 1
        elif response.status_code == 200:
            self.sent.update(seqs)
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
