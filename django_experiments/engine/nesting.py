"""Detect an experiment run inside another's run (thread- and async-safe via contextvars).

Like gitlab-experiment, only runs that execute the run callbacks (the experiment is enabled and
the context is not excluded) take part: those are the runs that are tracked, so those are the
ones whose results nesting would make impossible to attribute.

What happens on nesting is decided by the outer experiment's ``nest_experiment(nested)``, whose
default follows ``DJANGO_EXPERIMENTS["NESTING"]``: ``"raise"`` (default), ``"warn"`` or
``"allow"``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType
from typing import TYPE_CHECKING

from django_experiments.conf import settings
from django_experiments.engine.errors import NestingError

if TYPE_CHECKING:
    from django_experiments.engine.experiment import Experiment

logger = logging.getLogger("django_experiments")

#: The run in progress in this thread / task: the experiment and the frame of its ``run()``.
#: Keeping the frame (it is on the stack for as long as the run lasts) makes recording a run
#: free; the caller's file and line are only worked out when nesting is reported.
_running: ContextVar[tuple[Experiment, FrameType | None] | None] = ContextVar(
    "django_experiments_running", default=None
)

#: The ``run()`` frame of an experiment being checked for nesting (read by the message).
_entering: ContextVar[FrameType | None] = ContextVar("django_experiments_entering", default=None)

#: Frames under the package (engine, testing helpers, template tags) are skipped when reporting
#: where a run started: the caller is the first frame outside it.
_PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")


def where(frame: FrameType | None) -> str:
    """``file:line`` of the first frame outside this package, walking outwards from ``frame``."""
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def current() -> Experiment | None:
    """The experiment whose run is in progress in this thread or task, if any."""
    running = _running.get()
    return running[0] if running is not None else None


def nesting_message(outer: Experiment, nested: Experiment) -> str:
    running = _running.get()
    outer_frame = running[1] if running is not None and running[0] is outer else None
    nested_frame = _entering.get()
    return (
        f"unable to nest experiment {nested.name!r} within experiment {outer.name!r}:\n"
        f"  {outer.name!r} started at {where(outer_frame)}\n"
        f"  {nested.name!r} started at {where(nested_frame)}\n"
        "Nested experiments make results impossible to attribute. Run the inner experiment "
        "outside the outer one's behaviour, or allow this pair by overriding "
        f"{type(outer).__name__}.nest_experiment()."
    )


def default_nest_behavior(outer: Experiment, nested: Experiment) -> None:
    """Apply ``DJANGO_EXPERIMENTS["NESTING"]``."""
    mode = settings.NESTING
    if mode == "allow":
        return
    message = nesting_message(outer, nested)
    if mode == "warn":
        logger.warning(message)
        return
    raise NestingError(message, outer=outer, nested=nested)


@contextmanager
def running(experiment: Experiment, frame: FrameType | None = None) -> Iterator[None]:
    """Mark ``experiment`` as running for the block; ``frame`` is its ``run()`` frame."""
    outer = _running.get()
    if outer is not None:
        entering = _entering.set(frame)
        try:
            outer[0].nest_experiment(experiment)
        finally:
            _entering.reset(entering)
    token = _running.set((experiment, frame))
    try:
        yield
    finally:
        _running.reset(token)
