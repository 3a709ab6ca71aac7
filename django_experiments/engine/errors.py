"""Exceptions raised to developers (never on the request path for bad data)."""

from __future__ import annotations


class ExperimentError(Exception):
    """Base class for this package's errors."""


class BehaviorMissingError(ExperimentError):
    """``run()`` reached a variant that has no registered behaviour."""


class UnregisteredExperimentError(ExperimentError):
    """STRICT_REGISTRATION is on and no class is registered under the name."""


class NestingError(ExperimentError):
    """An experiment was run inside another experiment's run."""
