"""The example project's experiment tests use the pytest plugin's fixtures.

The plugin is a ``pytest11`` entry point once the package is installed; importing its fixtures
here also makes them available when running from a source checkout.
"""

from __future__ import annotations

from django_experiments.testing.plugin import (
    experiment_events,
    experiment_registry,
    stub_experiments,
)

__all__ = ["experiment_events", "experiment_registry", "stub_experiments"]
