"""The engine's only ways out: callbacks the app wires in ``AppConfig.ready()``.

The engine decides; it does not know where definitions come from, where events go, or what
happens to an unknown name. Those are the jobs of the layers above it (the ORM loader, the
tracking producer, the services), which register themselves here, so the engine imports
nothing from them (import-linter checks it in CI).

Before the app is ready (or in a bare script that never calls ``django.setup()``) the defaults
below apply: no definitions, events dropped with a debug log, unknown names only warned about.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_experiments.engine.definitions import Definition
    from django_experiments.engine.experiment import Experiment

logger = logging.getLogger("django_experiments")

#: ``() -> {name: Definition}``: every experiment's definition, read from the source of truth.
LoadDefinitions = Callable[[], Mapping[str, "Definition"]]
#: ``(experiment, event name, value, properties, tracked)``: an exposure ("assignment") or a
#: custom event. ``tracked`` is False when the context must not be tracked (DNT, excluded, not
#: running): the producer drops it, test captures still see it.
OnEvent = Callable[["Experiment", str, Any, "dict[str, Any]", bool], Any]
#: ``(bare name)``: resolution met a name with no definition.
OnUnknown = Callable[[str], None]
#: ``() -> bool``: the transaction open on this thread changed definitions (it may roll back,
#: so what it reads must not become the process's snapshot).
UncommittedChange = Callable[[], bool]


def _no_definitions() -> Mapping[str, Definition]:
    return {}


def _drop_event(
    experiment: Experiment, event: str, value: Any, properties: dict[str, Any], tracked: bool
) -> None:
    logger.debug("No tracking producer wired; dropping %r of %s", event, experiment.name)


def _ignore_unknown(name: str) -> None:
    return None


def _never() -> bool:
    return False


class Hooks:
    """The wired callbacks; ``django_experiments.apps`` sets them, tests may swap them."""

    def __init__(self) -> None:
        self.load_definitions: LoadDefinitions = _no_definitions
        self.on_event: OnEvent = _drop_event
        self.on_unknown: OnUnknown = _ignore_unknown
        self.uncommitted_change: UncommittedChange = _never


hooks = Hooks()
