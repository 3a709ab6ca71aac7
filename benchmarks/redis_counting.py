"""Round trips to Redis, counted on the client: one per request written to the socket.

redis-py writes a single command with one ``send_packed_command`` call and a whole pipeline
with one call too, so the count is the number of network round trips, not of commands.
Server-side command counts come from ``INFO commandstats`` deltas (see bench_redis.py).
"""

from __future__ import annotations

from typing import Any

from redis.connection import Connection


class _Counter:
    requests = 0


COUNTER = _Counter()


class CountingConnection(Connection):
    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        COUNTER.requests += 1
        super().send_packed_command(command, check_health)


def round_trips() -> int:
    return COUNTER.requests
