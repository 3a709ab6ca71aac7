"""Tracking: event schema, the producer (web side), delivery (worker side), sinks, outbox.

Events leave the process when they are tracked (outside a request) or when the request's
scope closes: there is no process-wide buffer to flush any more.
"""

from __future__ import annotations


def flush() -> int:
    """Kept for compatibility: events are handed over as they are tracked, so there is
    nothing left to flush. Returns 0."""
    return 0


__all__ = ["flush"]
