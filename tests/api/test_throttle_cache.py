"""The rate limiters' cache: shared while it works, process-local for a while when it fails."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import caches

from django_experiments.api import throttle_cache as module
from django_experiments.api.throttle_cache import RETRY_SECONDS, FallbackCache
from django_experiments.engine import stores


class Switchable:
    """A real cache that can be swapped for a dead one mid-test (fault injection)."""

    def __init__(self, alive: Any, dead: Any) -> None:
        self.alive, self.dead, self.up = alive, dead, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.alive if self.up else self.dead, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def switch(dead_cache: str) -> Switchable:
    caches["default"].clear()
    return Switchable(caches["default"], caches[dead_cache])


def test_uses_the_shared_cache_while_it_works(switch: Switchable) -> None:
    cache = FallbackCache(switch)
    cache.set("k", [1.0], 60)
    assert caches["default"].get("k") == [1.0]
    assert cache.get("k") == [1.0]
    assert cache.count("n", 3, 60) == 3
    assert cache.count("n", 2, 60) == 5
    assert not cache.degraded


def test_a_dead_cache_is_replaced_by_a_local_one_for_a_while(
    switch: Switchable, clock: list[float], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setattr(stores, "_warned_at", {})
    cache = FallbackCache(switch)
    switch.up = False
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        assert cache.get("k", []) == []
        cache.set("k", [1.0], 60)
        assert cache.get("k") == [1.0]  # answered locally
        assert cache.count("n", 4, 60) == 4
        assert cache.count("n", 1, 60) == 5
    assert cache.degraded
    assert len(caplog.records) == 1  # one warning, not one per call
    # The shared cache comes back: it is tried again after RETRY_SECONDS, not before.
    switch.up = True
    clock[0] += RETRY_SECONDS - 0.1
    assert cache.get("k") == [1.0]
    clock[0] += 0.2
    assert cache.get("k") is None  # the shared cache never saw the local counts
    assert not cache.degraded


def test_a_failure_mid_count_keeps_counting(switch: Switchable, clock: list[float]) -> None:
    cache = FallbackCache(switch)
    assert cache.count("n", 2, 60) == 2
    switch.up = False
    assert cache.count("n", 2, 60) == 2  # the local window starts afresh
    assert cache.degraded


def test_reset(switch: Switchable, clock: list[float]) -> None:
    cache = FallbackCache(switch)
    switch.up = False
    cache.set("k", 1, 60)
    switch.up = True
    cache.reset()
    assert not cache.degraded
    assert cache.get("k") is None


def test_counts_atomically_in_redis(redis_available: None) -> None:
    cache = FallbackCache(caches["redis"])
    key = "glex:test:throttle-count"
    caches["redis"].delete(key)
    try:
        assert [cache.count(key, 2, 60) for _ in range(3)] == [2, 4, 6]
        assert not cache.degraded
        assert caches["redis"].ttl(key) > 0  # the window expires by itself
    finally:
        caches["redis"].delete(key)
