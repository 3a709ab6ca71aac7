"""W006 / W007: the Redis broker's visibility timeout against delivery after a worker crash
(docs/tracking.md, "Redis as the Celery broker"). Apps are configured, never connected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from django.core import checks as django_checks

from django_experiments import checks
from tests.celery_apps import use_app

RECOMMENDED = {
    "visibility_timeout": 840,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}


@pytest.fixture
def broker() -> Iterator[Any]:
    """``broker(url, transport_options, eager=False)`` makes that app the current one."""
    stack: list[Any] = []

    def use(url: Any, options: dict[str, Any] | None = None, eager: bool = False) -> None:
        app = Celery("checks", set_as_current=False)
        app.conf.update(
            broker_url=url, broker_transport_options=options or {}, task_always_eager=eager
        )
        ctx = use_app(app)
        ctx.__enter__()
        stack.append(ctx)

    yield use
    while stack:
        stack.pop().__exit__(None, None, None)


def _ids() -> list[str]:
    return [m.id or "" for m in checks.check_redis_broker()]


def test_w006_kombu_default_visibility_timeout(broker: Any) -> None:
    broker("redis://127.0.0.1:6379/0")
    [message] = checks.check_redis_broker()
    assert message.id == "django_experiments.W006"
    assert isinstance(message, django_checks.Warning)
    # kombu's one-hour default plus its default sweep (10 s x every 10th call).
    assert "visibility_timeout 3600 s" in message.msg
    assert "up to 3700 s" in message.msg
    assert "'visibility_timeout': 840" in (message.hint or "")


def test_recommended_settings_give_no_warning(broker: Any) -> None:
    broker("redis://127.0.0.1:6379/0", RECOMMENDED)
    assert _ids() == []


def test_w006_counts_the_restore_sweep(broker: Any) -> None:
    # 840 s is within the target only with a sweep of 10 s; kombu's default sweep is 100 s.
    broker("redis://127.0.0.1:6379/0", {"visibility_timeout": 840})
    assert _ids() == ["django_experiments.W006"]
    broker("redis://127.0.0.1:6379/0", {**RECOMMENDED, "visibility_timeout": 891})
    assert _ids() == ["django_experiments.W006"]
    broker("redis://127.0.0.1:6379/0", {**RECOMMENDED, "visibility_timeout": 890})
    assert _ids() == []


def test_w007_retry_countdown_beyond_the_visibility_timeout(broker: Any, settings: Any) -> None:
    broker("redis://127.0.0.1:6379/0", {**RECOMMENDED, "visibility_timeout": 300})
    [message] = checks.check_redis_broker()
    assert message.id == "django_experiments.W007"
    assert "up to 660 s" in message.msg
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "TRACKING_RETRY_BACKOFF_MAX": 240}
    assert _ids() == []
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "TRACKING_RETRY_BACKOFF_MAX": 280}
    assert _ids() == ["django_experiments.W007"]


@pytest.mark.parametrize(
    "url",
    [
        "rediss://cache.example.com:6380/0",
        "redis+socket:///run/redis.sock",
        "sentinel://10.0.0.1:26379;sentinel://10.0.0.2:26379",
        ["redis://a:6379/0", "redis://b:6379/0"],
    ],
)
def test_every_redis_transport_is_checked(broker: Any, url: Any) -> None:
    broker(url)
    assert _ids() == ["django_experiments.W006"]


@pytest.mark.parametrize(
    "url", ["amqp://guest:guest@127.0.0.1:5672//", "memory://", "sqs://", None]
)
def test_other_brokers_are_not_checked(broker: Any, url: Any) -> None:
    broker(url)
    assert _ids() == []


def test_eager_celery_has_no_broker(broker: Any) -> None:
    broker("redis://127.0.0.1:6379/0", eager=True)
    assert _ids() == []


def test_malformed_options_fall_back_to_kombu_defaults(broker: Any) -> None:
    broker("redis://127.0.0.1:6379/0", {"visibility_timeout": "soon"})
    assert _ids() == ["django_experiments.W006"]


def test_registered(broker: Any) -> None:
    broker("redis://127.0.0.1:6379/0")
    found = django_checks.run_checks(tags=["django_experiments"])
    assert "django_experiments.W006" in [m.id for m in found]
