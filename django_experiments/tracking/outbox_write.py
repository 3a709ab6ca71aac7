"""Writing a batch to the durable outbox table: the fallback of every hand-over.

Both sides of the pipeline park batches here (the producer when the broker refuses, the
worker for retries under eager Celery); :mod:`django_experiments.tracking.outbox` drains them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.utils import timezone

from django_experiments.tracking.models import OutboxBatch

logger = logging.getLogger("django_experiments.tracking")


def store(
    batch: Sequence[dict[str, Any]],
    *,
    sinks: Sequence[str] | None = None,
    attempt: int = 1,
    dead_letter_id: int | None = None,
    delay: float = 0.0,
    error: str = "",
) -> OutboxBatch | None:
    """Write one batch to the outbox; it becomes due ``delay`` seconds from now."""
    now = timezone.now()
    try:
        return OutboxBatch.objects.create(
            events=list(batch),
            sinks=list(sinks) if sinks is not None else None,
            attempt=attempt,
            dead_letter_id=dead_letter_id,
            available_at=now + timedelta(seconds=max(0.0, delay)),
            created_at=now,
            last_error=error[:2000],
        )
    except Exception:
        # Broker and database both down: the log line is the last copy, so it carries the
        # events themselves (recoverable from log aggregation).
        logger.critical(
            "Tracking outbox write failed; events follow: %s",
            json.dumps(list(batch), default=str),
            exc_info=True,
        )
        return None
