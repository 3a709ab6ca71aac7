"""Helpers for the results tests: event dicts as producers send them, stored by DatabaseSink."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_experiments.tracking.sinks import DatabaseSink

Send = Callable[..., dict[str, Any]]


def event(
    name: str,
    key: str,
    variant: str = "control",
    *,
    experiment: str = "cta",
    at: datetime | None = None,
    value: float | None = None,
    phase: int | None = None,
    forced: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An event dict as the tracking pipeline hands it to sinks; ``phase``/``forced`` are left
    out when None, like events from producers that predate them."""
    data: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "event": name,
        "experiment": experiment,
        "variant": variant,
        "key": key,
        "value": value,
        "properties": {},
        "timestamp": (at or timezone.now()).isoformat(),
        **extra,
    }
    if phase is not None:
        data["phase"] = phase
    if forced is not None:
        data["forced"] = forced
    return data


@pytest.fixture
def store(db: Any) -> Callable[[list[dict[str, Any]]], None]:
    """Stores a batch through the real DatabaseSink (the worker's last step)."""

    def send(batch: list[dict[str, Any]]) -> None:
        DatabaseSink().send(batch)

    return send


@pytest.fixture
def minutes() -> Callable[[float], datetime]:
    """``minutes(5)``: a fixed base time plus 5 minutes (tests place events in phases)."""
    base = timezone.now() - timedelta(days=2)

    def at(offset: float) -> datetime:
        return base + timedelta(minutes=offset)

    return at


# The tracking pipeline's fixtures: an eager Celery app by default (autouse), real brokers and
# the settings helper for the end-to-end tests.
from tests.tracking.conftest import (  # noqa: E402,F401
    amqp_broker,
    eager_celery,
    redis_broker,
    tracking_settings,
)
