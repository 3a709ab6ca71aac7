"""Fixtures for the engine tests: plain-data definitions and reset module-level engine state."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest

from django_experiments.engine import allocation
from django_experiments.engine import experiment as experiment_module
from django_experiments.engine import stores as stores_module
from django_experiments.engine.definitions import Definition, TreatmentDef


def build_definition(
    weights: Mapping[str, float],
    *,
    name: str = "exp",
    salt: str = "salt",
    status: str = "running",
    ranges: list[allocation.Range] | None = None,
) -> Definition:
    """A Definition as the snapshot would hold it, without touching the DB."""
    order = list(weights)
    if ranges is None:
        ranges = allocation.fresh_table(allocation.slot_counts(list(weights.items())), order)
    treatments = tuple(
        TreatmentDef(n, float(w), i == 0, None) for i, (n, w) in enumerate(weights.items())
    )
    return Definition.build(
        name=name,
        status=status,
        salt=salt,
        treatments=treatments,
        control=order[0],
        winner=None,
        ranges=tuple(ranges),
        phase=1,
    )


@pytest.fixture
def definition_factory() -> Callable[..., Definition]:
    return build_definition


@pytest.fixture(autouse=True)
def _engine_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Warn-once and rollout caches are process state: give every test a clean slate."""
    monkeypatch.setattr(experiment_module, "_warned_unknown", set())
    monkeypatch.setattr(stores_module, "_warned_at", {})
    monkeypatch.setattr(experiment_module, "_rollouts", {})
    yield
