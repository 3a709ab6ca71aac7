"""pytest plugin (entry point ``pytest11``): experiment fixtures.

* ``stub_experiments``: a function, ``stub_experiments(cta="candidate", other=False)``, whose
  stubs last until the end of the test.
* ``experiment_events``: an :class:`~django_experiments.testing.EventCapture` active for the
  whole test: events are recorded on it instead of being shipped.
* ``experiment_registry``: classes registered during the test are unregistered after it.

After every test, what its requests left to background threads (a first visit's assignment
writes, a real broker's publishes) is finished, so it cannot land in the next test's store.

Imports happen inside the fixtures: pytest loads plugins before pytest-django configures
Django.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django_experiments.engine.experiment import Experiment
    from django_experiments.testing.events import EventCapture
    from django_experiments.testing.stubs import stub_experiments as StubExperiments


def _settle() -> None:
    if "django_experiments.engine.writebehind" in sys.modules:  # the test used the app
        from django_experiments.testing.background import settle

        if not settle(timeout=5):
            warnings.warn(
                "django_experiments: background writes or publishes did not finish within 5 s "
                "(store or broker stalled?); they may land during the next test",
                pytest.PytestWarning,
                stacklevel=1,
            )


# Old-style wrappers: new-style ones (``wrapper=True``) need pluggy 1.2+ / pytest 7.4+ only
# partly; these work on every pytest this package supports, and resume after a failure too.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # Right after the test body, before any fixture is torn down: the writes land in the
    # store the test set up (and cleans), the publishes go to the test's Celery app.
    yield
    _settle()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    # And what fixture teardowns queued (free when nothing is queued).
    yield
    _settle()


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
