"""Detect an experiment run inside another's run (thread- and async-safe via contextvars)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from django_experiments.conf import settings
from django_experiments.engine.errors import NestingError

if TYPE_CHECKING:
    from django_experiments.engine.experiment import Experiment

logger = logging.getLogger("django_experiments")

#: ``(experiment name, where it was started)`` of the run in progress, if any.
_running: ContextVar[tuple[str, str] | None] = ContextVar(
    "django_experiments_running", default=None
)

_PACKAGE_DIR = __file__.rsplit("/engine/", 1)[0]


def _caller() -> str:
    """The first frame outside this package: cheap enough to take on every run."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


@contextmanager
def running(experiment: Experiment) -> Iterator[None]:
    outer = _running.get()
    if outer is not None:
        mode = settings.NESTING
        message = (
            f"experiment {experiment.name!r} (started at {_caller()}) was run inside "
            f"experiment {outer[0]!r} (started at {outer[1]}); nested experiments make "
            "results impossible to attribute"
        )
        if mode == "raise":
            raise NestingError(message)
        if mode == "warn":
            logger.warning(message)
        yield
        return
    token = _running.set((experiment.name, _caller()))
    try:
        yield
    finally:
        _running.reset(token)
