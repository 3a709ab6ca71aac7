"""pytest plugin (entry point ``pytest11``): experiment fixtures.

* ``stub_experiments``: a function, ``stub_experiments(cta="candidate", other=False)``, whose
  stubs last until the end of the test.
* ``experiment_events``: an :class:`~django_experiments.testing.EventCapture` active for the
  whole test: events are recorded on it instead of being shipped.
* ``experiment_registry``: classes registered during the test are unregistered after it.

Imports happen inside the fixtures: pytest loads plugins before pytest-django configures
Django.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django_experiments.engine.experiment import Experiment
    from django_experiments.testing.events import EventCapture
    from django_experiments.testing.stubs import stub_experiments as StubExperiments


@pytest.fixture
def stub_experiments() -> Iterator[Callable[..., StubExperiments]]:
    """``stub_experiments(cta="candidate")``: stubs that last until the end of the test."""
    from django_experiments.testing.stubs import stub_experiments as stubber

    started: list[StubExperiments] = []

    def stub(experiments: Any = None, /, **by_name: Any) -> StubExperiments:
        stubs = stubber(experiments, **by_name).start()
        started.append(stubs)
        return stubs

    yield stub
    for stubs in reversed(started):
        stubs.stop()


@pytest.fixture
def experiment_events() -> Iterator[EventCapture]:
    """Every event tracked during the test, captured instead of shipped."""
    from django_experiments.testing.events import EventCapture

    with EventCapture() as capture:
        yield capture


@pytest.fixture
def experiment_registry() -> Iterator[dict[str, type[Experiment]]]:
    """The class registry; classes registered during the test are removed after it."""
    from django_experiments.testing.registry import isolated_registry

    with isolated_registry() as registry:
        yield registry
