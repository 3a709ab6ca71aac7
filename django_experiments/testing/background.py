"""Wait for the work the app does after a response, so a test can assert on it."""

from __future__ import annotations


def settle(timeout: float = 10.0) -> bool:
    """Write queued new assignments and publish queued events now; True when both are done.

    A visitor's first request stores its assignments just after the response, and events go
    to the broker from a background thread (docs/architecture.md). Call this before asserting
    on the store or on a real broker's queue.
    """
    from django_experiments.engine.writebehind import writer
    from django_experiments.tracking.dispatch import publisher

    written = writer.flush(timeout)
    published = publisher.flush(timeout)
    return written and published
