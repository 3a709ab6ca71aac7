"""Tracking sinks (placeholder: the tracking pipeline issue fills this in)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger("django_experiments.events")


class Sink:
    name = "sink"

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError


class LoggingSink(Sink):
    name = "logging"

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        for event in events:
            logger.info(json.dumps(event, sort_keys=True))
