"""``EventCapture``: captured events (see :mod:`django_experiments.testing.capture`) with
after-the-fact checks (``assert_tracked`` / ``assert_not_tracked``)."""

from __future__ import annotations

from typing import Any

from django_experiments.testing import capture
from django_experiments.testing.capture import CapturedEvent, why_untracked
from django_experiments.testing.expectations import TrackExpectation

__all__ = ["CapturedEvent", "EventCapture", "why_untracked"]


class EventCapture(capture.EventCapture):
    """``with EventCapture() as events: ...``; also the ``experiment_events`` fixture."""

    def assert_tracked(self, experiment: Any, event: str, /, **expected: Any) -> None:
        """Check what was captured so far (same options as ``assert_tracked``)."""
        TrackExpectation(experiment, event, negated=False, **expected).check(self.all)

    def assert_not_tracked(self, experiment: Any, event: str, /, **expected: Any) -> None:
        TrackExpectation(experiment, event, negated=True, **expected).check(self.all)
