"""``TrackExpectation``: an expected (or forbidden) tracked event, checked against captures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from django_experiments.engine.experiment import Experiment
from django_experiments.testing.capture import CapturedEvent, EventCapture


class _Missing:
    def __repr__(self) -> str:
        return "<not given>"


MISSING: Any = _Missing()


def _fail(message: str) -> None:
    __tracebackhide__ = True
    raise AssertionError(message)


class TrackExpectation:
    """An expected (or forbidden) tracked event, checked against captured events.

    Used through :func:`expect_tracked` / :func:`expect_not_tracked` (context managers that
    capture the block) or ``experiment_events.assert_tracked(...)`` (after the fact).
    """

    def __init__(
        self,
        experiment: Any,
        event: str,
        /,
        *,
        negated: bool = False,
        value: Any = MISSING,
        properties: Mapping[str, Any] | None = None,
        variant: str | None = None,
        context: Mapping[str, Any] | None = None,
        on_next_instance: bool = False,
    ) -> None:
        if negated and (variant is not None or context is not None):
            raise ValueError("cannot give variant= or context= when expecting no tracking")
        if variant is not None and (not isinstance(variant, str) or not variant):
            raise ValueError("variant= must be a variant name")
        if isinstance(experiment, Experiment):
            self.instance: Experiment | None = None if on_next_instance else experiment
            self.cls: type[Experiment] | None = None
            self.names = {experiment.name, experiment.base_name}
        elif isinstance(experiment, type) and issubclass(experiment, Experiment):
            self.instance, self.cls = None, experiment
            self.names = {experiment.name}
        elif isinstance(experiment, str) and experiment:
            self.instance, self.cls = None, None
            self.names = {experiment}
        else:
            raise TypeError(f"expected an experiment name, class or instance, got {experiment!r}")
        self.target = experiment
        self.event = event
        self.negated = negated
        self.value = value
        self.properties = dict(properties) if properties is not None else None
        self.variant = variant
        self.context = dict(context) if context is not None else None
        self._capture: EventCapture | None = None

    def _of_target(self, captured: CapturedEvent) -> bool:
        exp = captured.experiment
        if self.instance is not None:
            return exp is self.instance
        if self.cls is not None and not isinstance(exp, self.cls):
            return False
        return bool(self.names & {exp.name, exp.base_name})

    def _matches(self, captured: CapturedEvent) -> bool:
        if not captured.tracked or captured.name != self.event:
            return False
        if self.value is not MISSING and captured.value != self.value:
            return False
        if self.properties is not None and captured.properties != self.properties:
            return False
        if self.variant is not None and captured.variant != self.variant:
            return False
        if self.context is not None:
            values = captured.experiment.context.value
            if any(k not in values or values[k] != v for k, v in self.context.items()):
                return False
        return True

    def _describe_target(self) -> str:
        if self.instance is not None:
            return repr(self.instance)
        if self.cls is not None:
            return self.cls.__qualname__
        return f"experiment {sorted(self.names)[0]!r}"

    def message(self, captured: Iterable[CapturedEvent]) -> str:
        base = (
            f"expected {self._describe_target()} {'not to' if self.negated else 'to'} "
            f"have tracked {self.event!r}"
        )
        details: list[str] = []
        if self.variant is not None:
            base += " for variant"
        if self.context is not None:
            base += " with context"
        if self.value is not MISSING:
            details.append(f"  expected value: {self.value!r}")
        if self.properties is not None:
            details.append(f"  expected properties: {self.properties!r}")
        # What the target did track under this event name: the facts to compare with.
        of_target = [c for c in captured if self._of_target(c) and c.name == self.event]
        if self.variant is not None:
            details.append(f"  expected variant: {self.variant!r}")
            actual = sorted({c.variant for c in of_target}) or None
            details.append(f"  actual variant: {actual!r}")
        if self.context is not None:
            details.append(f"  expected context: {self.context!r}")
            contexts = [c.experiment.context.value for c in of_target]
            details.append(f"  actual context: {contexts or None!r}")
        if of_target:
            details.append("  captured:")
            details.extend(f"    - {c.describe()}" for c in of_target)
        else:
            details.append("  captured: nothing for this experiment")
            if not self.negated:
                name = sorted(self.names)[0]
                details.append(
                    "  (is the experiment enabled? In tests, stub it so tracking is permitted: "
                    f"stub_experiments({{{name!r}: True}}))"
                )
        return "\n".join([base, *details])

    def check(self, captured: Iterable[CapturedEvent]) -> None:
        __tracebackhide__ = True
        captured = list(captured)
        found = any(self._of_target(c) and self._matches(c) for c in captured)
        if found == self.negated:
            _fail(self.message(captured))

    def __enter__(self) -> TrackExpectation:
        self._capture = EventCapture().start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        capture = self._capture
        assert capture is not None
        capture.stop()
        if exc_type is None:
            self.check(capture.all)
