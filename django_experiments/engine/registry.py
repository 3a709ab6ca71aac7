"""Code-defined experiment classes by name, and the ``experiment()`` factory."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django_experiments.conf import settings
from django_experiments.engine import assignments
from django_experiments.engine.context import identify
from django_experiments.engine.decision import PAUSED, RUNNING
from django_experiments.engine.errors import ExperimentError, UnregisteredExperimentError
from django_experiments.engine.experiment import Experiment, split_name
from django_experiments.engine.scope import Scope
from django_experiments.engine.scope import _current as _current_scope
from django_experiments.engine.stores import NullStore, get_store, report_failure

E = TypeVar("E", bound=type[Experiment])

_registry: dict[str, type[Experiment]] = {}
#: ``(name as asked, settings generation) -> (class, bare name, full name)``: the factory's
#: lookup, without re-splitting the prefix and re-reading settings on every call. Cleared
#: when the registry changes.
_classes: dict[tuple[str, int], tuple[type[Experiment], str, str]] = {}


def _lookup(name: str) -> tuple[type[Experiment], str, str]:
    if not name:
        raise ValueError("an experiment needs a name")
    if len(_classes) > 4096:
        _classes.clear()
    return (class_for(name), *split_name(name))


def register(cls: E) -> E:
    """Class decorator: make ``cls`` the class used for experiments named ``cls.name``.

    Registering a different class under a name that is taken raises; registering the same
    class again (a module reload) replaces it.
    """
    if not isinstance(cls, type) or not issubclass(cls, Experiment):
        raise TypeError(f"@register expects an Experiment subclass, got {cls!r}")
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a `name` to be registered")
    existing = _registry.get(cls.name)
    if existing is not None and _path(existing) != _path(cls):
        raise ExperimentError(
            f"experiment {cls.name!r} is already registered by {_path(existing)}; "
            f"{_path(cls)} cannot register it too (unregister({cls.name!r}) first)"
        )
    _registry[cls.name] = cls
    _classes.clear()
    return cls


def unregister(name: str) -> None:
    _registry.pop(split_name(name)[0], None)
    _classes.clear()


def replace_all(classes: dict[str, type[Experiment]]) -> None:
    """Make ``classes`` the whole registry (test isolation restores a saved copy)."""
    _registry.clear()
    _registry.update(classes)
    _classes.clear()


def registered() -> dict[str, type[Experiment]]:
    """A copy of ``{bare name: class}``."""
    return dict(_registry)


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def class_for(name: str) -> type[Experiment]:
    """The registered class for ``name`` (bare or prefixed), else the base ``Experiment``."""
    bare = split_name(name)[0]
    cls = _registry.get(bare)
    if cls is not None:
        return cls
    if settings.STRICT_REGISTRATION:
        known = ", ".join(sorted(_registry)) or "none"
        raise UnregisteredExperimentError(
            f"No experiment class is registered for {bare!r} and STRICT_REGISTRATION is on "
            f"(registered: {known}). Define one in an installed app's experiments.py, which is "
            "imported at startup:\n\n"
            "    from django_experiments import Experiment, candidate, control, register\n\n"
            "    @register\n"
            f"    class {_camel(bare)}Experiment(Experiment):\n"
            f"        name = {bare!r}\n\n"
            "        @control\n"
            "        def control_behavior(self): ...\n\n"
            "        @candidate\n"
            "        def candidate_behavior(self): ...\n\n"
            f"or generate it with `python manage.py startexperiment {bare}`."
        )
    return Experiment


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def experiment(
    name: str, variant: str | None = None, /, *, scope: Scope | None = None, **context: Any
) -> Experiment:
    """The experiment ``name`` for this context: usable in views, services, tasks and shells.

    ``variant`` assigns manually (stored, so it sticks). Inside a request (or any bound scope)
    the same name and context resolve once: later calls get a new instance (own inline
    behaviours, own run) over the memoised resolution, so there is no second store round trip.
    """
    scope = scope if scope is not None else _current_scope.get()
    cache_key = (name, settings.generation)
    found_class = _classes.get(cache_key)
    if found_class is None:
        found_class = _classes[cache_key] = _lookup(name)
    cls, base_name, full_name = found_class
    if scope is None:
        return cls._create(base_name, full_name, variant, None, context)
    memo_key = _memo_key(name, variant, context)
    state = scope.memo.get(memo_key)
    if state is None:
        found = cls._create(base_name, full_name, variant, scope, context)
        scope.memo[memo_key] = found._state
        # The creator shares the memoised resolution too: its inline rules must fork it.
        found._shared = True
        return found
    return cls._from_resolution(state, variant)


def _memo_key(name: str, variant: str | None, context: dict[str, Any]) -> tuple[Any, ...]:
    if len(context) == 1:
        # One keyword (actor=...): skip the generic identity's sorting and encoding.
        [(field, value)] = context.items()
        if value is not None and type(value) is not str:
            value = identify(value)
        return (name, variant, field, value)
    return (name, variant, identify(context))


def resolved_in(scope: Scope, name: str, variant: str | None, context: dict[str, Any]) -> bool:
    """Whether ``experiment(name, variant, **context)`` is already resolved in ``scope``:
    asking again then needs no I/O (the async API skips its thread hop)."""
    state = scope.memo.get(_memo_key(name, variant, context))
    return state is not None and state.decision is not None


def prefetch(names: Iterable[str], /, *, scope: Scope | None = None, **context: Any) -> int:
    """Read the stored assignments of several experiments for one context in one round trip.

    The explicit multi-read for a returning visitor: call it before resolving the experiments
    a page uses (``request.experiment.prefetch("cta", "pricing")`` in a view). Later
    resolutions of those experiments in the scope use what was read; one that found nothing
    still claims its variant atomically. Returns how many fields were read (0 without a
    scope, for a new visitor, or when the store is down: resolution then reads as usual).
    """
    scope = scope if scope is not None else _current_scope.get()
    if scope is None:
        return 0
    store = get_store()
    if type(store) is NullStore:  # nothing is stored: nothing to read
        return 0
    if context == {"actor": None} and scope.anonymous_id is None and scope.deferring:
        # A new visitor (the id is minted in this scope): nothing of theirs can be stored.
        return 0
    fields = []
    for name in names:
        exp = experiment(name, scope=scope, **context)
        definition = exp.definition
        if definition is None or definition.status not in (RUNNING, PAUSED):
            continue
        if exp._store() is not store:  # a stub's or a class's own store: read it there
            continue
        if exp._predictable():  # the store can only hold the table's variant: no read
            continue
        fields.append((definition.store_name, exp.context))
    try:
        return assignments.prefetch(store, scope, fields)
    except Exception:
        report_failure("Prefetching assignments failed; resolving one by one")
        return 0
