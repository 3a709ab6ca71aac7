"""A/B/n experiments for Django.

The public API: ``experiment()`` anywhere, ``Experiment`` plus the rule decorators for
code-defined experiments, ``register`` to bind a class to an admin row's name, and
``prefetch()`` to read several experiments' assignments in one round trip.

Names are imported on first use (PEP 562), so ``import django_experiments`` (as Django does
when it loads ``INSTALLED_APPS``) does not load the engine and its settings.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_experiments.engine.definitions import Variant
    from django_experiments.engine.errors import (
        BehaviorMissingError,
        ExistingBehaviorError,
        ExperimentError,
        NestingError,
        UnregisteredExperimentError,
    )
    from django_experiments.engine.experiment import Experiment
    from django_experiments.engine.registry import experiment, prefetch, register, unregister
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

_ERRORS = "django_experiments.engine.errors"
_REGISTRY = "django_experiments.engine.registry"
_ROLLOUT = "django_experiments.engine.rollout"
_RULES = "django_experiments.engine.rules"

#: Public name -> the module that defines it.
_LOCATIONS: dict[str, str] = {
    "BehaviorMissingError": _ERRORS,
    "ExistingBehaviorError": _ERRORS,
    "ExperimentError": _ERRORS,
    "NestingError": _ERRORS,
    "UnregisteredExperimentError": _ERRORS,
    "Experiment": "django_experiments.engine.experiment",
    "Variant": "django_experiments.engine.definitions",
    "experiment": _REGISTRY,
    "prefetch": _REGISTRY,
    "register": _REGISTRY,
    "unregister": _REGISTRY,
    "Percent": _ROLLOUT,
    "Random": _ROLLOUT,
    "Rollout": _ROLLOUT,
    "RoundRobin": _ROLLOUT,
    "after_run": _RULES,
    "around_run": _RULES,
    "before_run": _RULES,
    "candidate": _RULES,
    "control": _RULES,
    "exclude": _RULES,
    "segment": _RULES,
    "variant": _RULES,
}

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
    "prefetch",
    "register",
    "segment",
    "unregister",
    "variant",
]


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'django_experiments' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next access is a plain global lookup
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LOCATIONS])
