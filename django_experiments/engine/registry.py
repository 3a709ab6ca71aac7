"""Code-defined experiment classes by name, and the ``experiment()`` factory."""

from __future__ import annotations

from typing import Any, TypeVar

from django_experiments.conf import settings
from django_experiments.engine.context import identify
from django_experiments.engine.errors import UnregisteredExperimentError
from django_experiments.engine.experiment import Experiment
from django_experiments.engine.scope import Scope, current_scope

E = TypeVar("E", bound=type[Experiment])

_registry: dict[str, type[Experiment]] = {}


def register(cls: E) -> E:
    """Class decorator: make ``cls`` the class used for experiments named ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a `name` to be registered")
    _registry[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    _registry.pop(name, None)


def registered() -> dict[str, type[Experiment]]:
    return dict(_registry)


def class_for(name: str) -> type[Experiment]:
    prefix = settings.NAME_PREFIX
    bare = name[len(prefix) + 1 :] if prefix and name.startswith(f"{prefix}_") else name
    cls = _registry.get(bare)
    if cls is not None:
        return cls
    if settings.STRICT_REGISTRATION:
        raise UnregisteredExperimentError(
            f"No experiment class is registered for {bare!r} and STRICT_REGISTRATION is on. "
            "Register one in an app's experiments.py:\n\n"
            "    from django_experiments import Experiment, register, control, candidate\n\n"
            "    @register\n"
            f"    class {_camel(bare)}Experiment(Experiment):\n"
            f"        name = {bare!r}\n"
        )
    return Experiment


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def experiment(
    name: str, variant: str | None = None, /, *, scope: Scope | None = None, **context: Any
) -> Experiment:
    """The experiment ``name`` for this context: usable in views, services, tasks and shells.

    Inside a request (or any bound scope) the same name and context give the same object, so a
    second call costs no store round trip.
    """
    scope = scope if scope is not None else current_scope()
    cls = class_for(name)
    if scope is None:
        return cls(name, variant, **context)
    memo_key = (name, variant, identify(context))
    found = scope.memo.get(memo_key)
    if found is None:
        found = cls(name, variant, scope=scope, **context)
        scope.memo[memo_key] = found
    return found
