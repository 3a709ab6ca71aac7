"""Capture tracked events instead of shipping them (the mechanism; ``events`` adds checks).

While a capture is active, every event an experiment emits (assignments and ``track()`` calls)
is recorded on it and nothing reaches the scope buffer, the process buffer or a sink. Calls to
``track()`` that were ignored because the context should not be tracked (experiment disabled,
context excluded, Do Not Track) are recorded too, as ``tracked=False``, so assertions can say
why an expected event is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django_experiments.engine.experiment import Experiment
from django_experiments.testing.activation import Activation


@dataclass(frozen=True)
class CapturedEvent:
    #: The event as a sink would have received it (for ignored calls: name, value, properties).
    data: dict[str, Any]
    #: The instance that emitted it (its ``context.value`` backs ``context=`` assertions).
    experiment: Experiment
    #: False when ``track()`` was called but the context should not be tracked.
    tracked: bool = True

    @property
    def name(self) -> str:
        return str(self.data["event"])

    @property
    def variant(self) -> str:
        return self.experiment.decision.variant

    @property
    def value(self) -> Any:
        return self.data.get("value")

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self.data.get("properties") or {})

    def describe(self) -> str:
        text = (
            f"{self.name!r} on {self.experiment.name!r} (variant {self.variant!r}, "
            f"value {self.value!r}, properties {self.properties!r})"
        )
        if not self.tracked:
            text += f" [ignored: {why_untracked(self.experiment)}]"
        return text


def why_untracked(experiment: Experiment) -> str:
    if not experiment.enabled:
        return "the experiment is not enabled"
    if experiment.excluded:
        return "the context is excluded"
    if not experiment.context.trackable:
        return "the visitor asked not to be tracked"
    return "not trackable"


class EventCapture(Activation):
    """``with EventCapture() as events: ...``; also the ``experiment_events`` fixture."""

    def __init__(self) -> None:
        self.all: list[CapturedEvent] = []
        self._active = False

    def _record(self, experiment: Experiment, event: dict[str, Any], tracked: bool) -> None:
        if tracked and event.get("event") == "assignment" and self._seen_exposure(event):
            return  # the dedupe window would not have shipped it again either
        self.all.append(CapturedEvent(dict(event), experiment, tracked))

    def _seen_exposure(self, event: dict[str, Any]) -> bool:
        from django_experiments.tracking.events import dedupe_key

        key = dedupe_key(event)
        return any(
            c.tracked and c.name == "assignment" and dedupe_key(c.data) == key for c in self.all
        )

    def start(self) -> EventCapture:
        if not self._active:
            # Imported here: the pytest plugin imports this package before Django is set up.
            from django_experiments.tracking import producer

            producer.captures.append(self._record)
            self._active = True
        return self

    def stop(self) -> None:
        if self._active:
            from django_experiments.tracking import producer

            producer.captures.remove(self._record)
            self._active = False

    @property
    def events(self) -> list[dict[str, Any]]:
        """The tracked events, as sinks would have received them."""
        return [c.data for c in self.all if c.tracked]

    def named(self, event: str, experiment: str | None = None) -> list[dict[str, Any]]:
        """Tracked events called ``event`` (of ``experiment``, bare or full name, if given)."""
        return [
            c.data
            for c in self.all
            if c.tracked
            and c.name == event
            and (experiment is None or experiment in (c.experiment.name, c.experiment.base_name))
        ]

    def clear(self) -> None:
        self.all.clear()

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Any:
        return iter(self.events)
