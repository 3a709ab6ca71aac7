"""Test helpers for code that uses experiments (pytest plugin and Django ``TestCase`` alike).

pytest: the plugin (entry point ``pytest11``, module ``django_experiments.testing.plugin``)
provides the ``stub_experiments``, ``experiment_events`` and ``experiment_registry`` fixtures.
Everything else is importable from here::

    from django_experiments.testing import (
        EventCapture, assert_excludes, assert_registers_behavior, assert_segments,
        expect_tracked, stub_experiments,
    )

See docs/testing.md.
"""

from __future__ import annotations

from django_experiments.testing.assertions import (
    MISSING,
    TrackExpectation,
    assert_excludes,
    assert_not_excludes,
    assert_not_registers_behavior,
    assert_not_segments,
    assert_registers_behavior,
    assert_segments,
    expect_not_tracked,
    expect_tracked,
)
from django_experiments.testing.events import CapturedEvent, EventCapture
from django_experiments.testing.registry import isolated_registry
from django_experiments.testing.stubs import Stub, StubStore, active_stubs, stub_experiments


def settle(timeout: float = 10.0) -> bool:
    """Kept for compatibility; always True. Nothing runs in the background any more: a
    request's writes and events are handed over before its response is returned."""
    return True


__all__ = [
    "MISSING",
    "CapturedEvent",
    "EventCapture",
    "Stub",
    "StubStore",
    "TrackExpectation",
    "active_stubs",
    "settle",
    "assert_excludes",
    "assert_not_excludes",
    "assert_not_registers_behavior",
    "assert_not_segments",
    "assert_registers_behavior",
    "assert_segments",
    "expect_not_tracked",
    "expect_tracked",
    "isolated_registry",
    "stub_experiments",
]
