"""Exceptions raised to developers (never on the request path for bad data)."""

from __future__ import annotations

from typing import Any


class ExperimentError(Exception):
    """Base class for this package's errors."""


class BehaviorMissingError(ExperimentError):
    """``run()`` reached a variant that has no registered behaviour."""


class ExistingBehaviorError(ExperimentError):
    """One class body registers two behaviours for the same variant."""


class UnregisteredExperimentError(ExperimentError):
    """STRICT_REGISTRATION is on and no class is registered under the name."""


class NestingError(ExperimentError):
    """An experiment was run inside another experiment's run.

    ``outer`` and ``nested`` are the two experiment instances, for handlers that want more
    than the message.
    """

    def __init__(self, message: str, outer: Any = None, nested: Any = None) -> None:
        super().__init__(message)
        self.outer = outer
        self.nested = nested
