"""A/B/n experiments for Django.

The public API: ``experiment()`` anywhere, ``Experiment`` plus the rule decorators for
code-defined experiments, and ``register`` to bind a class to an admin row's name.
"""

from __future__ import annotations

from django_experiments.engine.errors import (
    BehaviorMissingError,
    ExistingBehaviorError,
    ExperimentError,
    NestingError,
    UnregisteredExperimentError,
)
from django_experiments.engine.experiment import Experiment, Variant
from django_experiments.engine.registry import experiment, register, unregister
from django_experiments.engine.rollout import Percent, Random, Rollout, RoundRobin
from django_experiments.engine.rules import (
    after_run,
    around_run,
    before_run,
    candidate,
    control,
    exclude,
    segment,
    variant,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "BehaviorMissingError",
    "ExistingBehaviorError",
    "Experiment",
    "ExperimentError",
    "NestingError",
    "Percent",
    "Random",
    "Rollout",
    "RoundRobin",
    "UnregisteredExperimentError",
    "Variant",
    "after_run",
    "around_run",
    "before_run",
    "candidate",
    "control",
    "exclude",
    "experiment",
    "register",
    "segment",
    "unregister",
    "variant",
]
