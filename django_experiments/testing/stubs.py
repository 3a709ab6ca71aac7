"""``stub_experiments``: decide experiments in tests without admin rows or a real store.

Mirrors gitlab-experiment's ``stub_experiments``::

    stub_experiments(cta="candidate")                               # enabled; rollout gives it
    stub_experiments(cta={"variant": "candidate", "assigned": True})  # ...and already stored
    stub_experiments(cta=True)                                      # enabled; rollout decides
    stub_experiments(cta=False)                                     # disabled: control, untracked

A stub replaces the definitions snapshot for that name with a running (or draft) definition
whose treatments are the admin row's (if one is readable), the class's behaviours and the
stubbed variant, and gives the experiment an in-memory store of its own. Nothing is written to
the database. Manual assignment, ``glex_force``, exclusion and segmentation still apply before
the rollout step, as they do with gitlab's stub.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django_experiments.engine import allocation
from django_experiments.engine import experiment as engine
from django_experiments.engine.definitions import Definition, TreatmentDef, get_definition
from django_experiments.engine.experiment import CONTROL, Experiment, split_name
from django_experiments.engine.stores import Store
from django_experiments.testing.activation import Activation

logger = logging.getLogger("django_experiments")

T = TypeVar("T")

_OPTION_KEYS = frozenset({"variant", "assigned"})


class StubStore(Store):
    """An in-memory store for one stubbed experiment.

    ``preset`` (the ``assigned: True`` form) is what every context has stored until something
    else is written for it.
    """

    name = "stub"

    def __init__(self, preset: str | None = None) -> None:
        self.preset = preset
        self.data: dict[str, str] = {}
        self.counter = 0

    def get(self, experiment: str, key: str, migration_keys: Sequence[str] = ()) -> str | None:
        current = self.data.get(key)
        for old in migration_keys:
            if old in self.data:
                value = self.data.pop(old)
                if current is None:
                    self.data[key] = current = value
                break
        return current if current is not None else self.preset

    def set(self, experiment: str, key: str, variant: str) -> None:
        self.data[key] = variant

    def delete(self, experiment: str, key: str) -> None:
        self.data.pop(key, None)

    def clear(self, experiment: str) -> None:
        self.data.clear()
        self.counter = 0

    def increment(self, experiment: str) -> int:
        self.counter += 1
        return self.counter


class Stub:
    """The stub installed for one experiment name (implements the engine's ``StubHook``)."""

    def __init__(self, name: str, variant: str | None, enabled: bool, assigned: bool) -> None:
        self.name = name
        self.variant = variant
        self.enabled = enabled
        self.assigned = assigned
        self.store: Store = StubStore(variant if assigned else None)
        self._definitions: dict[type, Definition] = {}

    def __repr__(self) -> str:
        if not self.enabled:
            return f"<Stub {self.name}: disabled>"
        return f"<Stub {self.name}: variant={self.variant!r} assigned={self.assigned}>"

    def definition_for(self, experiment: Experiment) -> Definition:
        cls = type(experiment)
        definition = self._definitions.get(cls)
        if definition is None:
            definition = self._definitions[cls] = self._build(cls, _readable(self.name))
        return definition

    def _build(self, cls: type[Experiment], real: Definition | None) -> Definition:
        if real is not None:
            treatments = list(real.treatments)
            control = real.control
        else:
            treatments = [TreatmentDef(CONTROL, 1.0, True, None)]
            control = CONTROL
        names = {t.name for t in treatments}
        extra = [*cls._class_behaviors]
        if self.variant is not None:
            extra.append(self.variant)
        for name in extra:
            if name not in names:
                names.add(name)
                treatments.append(TreatmentDef(name, 1.0, False, None))
        order = [t.name for t in treatments]
        counts = allocation.slot_counts([(t.name, t.weight) for t in treatments])
        return Definition.build(
            name=self.name,
            status="running" if self.enabled else "draft",
            salt=real.salt if real is not None else f"stub:{self.name}",
            treatments=tuple(treatments),
            control=control,
            winner=None,
            ranges=tuple(allocation.fresh_table(counts, order)),
            phase=real.phase if real is not None else 0,
            client_visible=real.client_visible if real is not None else False,
        )


def _readable(name: str) -> Definition | None:
    """The admin row's definition if it can be read here; stubs never need one.

    A test without database access (pytest-django blocks it) or without the tables simply gets
    the stub's own treatments.
    """
    try:
        return get_definition(name)
    except Exception:
        logger.debug("Stub for %r: no readable definition", name, exc_info=True)
        return None


def parse_stub(name: str, spec: Any) -> Stub:
    """Turn one ``name=spec`` pair into a Stub, rejecting anything ambiguous."""
    bare = split_name(name)[0]
    if spec is True:
        return Stub(bare, None, True, False)
    if spec is False:
        return Stub(bare, None, False, False)
    if isinstance(spec, str) and spec:
        return Stub(bare, spec, True, False)
    if isinstance(spec, Mapping):
        unknown = set(spec) - _OPTION_KEYS
        if unknown:
            raise TypeError(
                f"stub_experiments({name}=...) got unknown option(s) {sorted(unknown)}; "
                "use {'variant': <name>, 'assigned': <bool>}"
            )
        variant = spec.get("variant")
        if variant is not None and (not isinstance(variant, str) or not variant):
            raise TypeError(f"stub_experiments({name}=...): 'variant' must be a variant name")
        return Stub(bare, variant, True, bool(spec.get("assigned", False)))
    raise TypeError(
        f"stub_experiments({name}={spec!r}): expected a variant name, "
        "{'variant': ..., 'assigned': True}, True (enabled) or False (disabled)"
    )


def _key(name: Any) -> str:
    if isinstance(name, type) and issubclass(name, Experiment):
        if not name.name:
            raise TypeError(f"{name.__qualname__} has no `name` to stub")
        return name.name
    if not isinstance(name, str) or not name:
        raise TypeError(f"experiment names must be strings or Experiment classes, got {name!r}")
    return name


class stub_experiments(Activation):  # noqa: N801 - used like a function: decorator and context manager
    """Stub experiments for a block, a test function or every test of a class.

    ``with stub_experiments(cta="candidate"): ...``, ``@stub_experiments(cta=True)`` on a test
    function or a TestCase class, or the ``stub_experiments`` pytest fixture. A mapping as the
    first argument allows names that are not identifiers and Experiment classes as keys.
    """

    def __init__(self, experiments: Mapping[Any, Any] | None = None, /, **by_name: Any) -> None:
        specs = {**dict(experiments or {}), **by_name}
        if not specs:
            raise TypeError("stub_experiments() needs at least one experiment")
        self.stubs = {stub.name: stub for stub in self._parse(specs.items())}
        self._saved: list[dict[str, Any]] = []

    @staticmethod
    def _parse(items: Iterable[tuple[Any, Any]]) -> list[Stub]:
        return [parse_stub(_key(name), spec) for name, spec in items]

    def __repr__(self) -> str:
        return f"stub_experiments({', '.join(map(repr, self.stubs.values()))})"

    def start(self) -> stub_experiments:
        saved = {name: engine._stubs.get(name) for name in self.stubs}
        self._saved.append(saved)
        for name, stub in self.stubs.items():
            # A fresh store per activation: nothing leaks from one test into the next.
            stub.store = StubStore(stub.variant if stub.assigned else None)
            engine._stubs[name] = stub
        return self

    def stop(self) -> None:
        if not self._saved:
            return
        saved = self._saved.pop()
        for name, previous in saved.items():
            if previous is None:
                engine._stubs.pop(name, None)
            else:
                engine._stubs[name] = previous

    def __call__(self, target: T) -> T:
        if isinstance(target, type):
            for attr, value in list(vars(target).items()):
                if attr.startswith("test") and callable(value):
                    setattr(target, attr, self._wrap(value))
            return target
        if callable(target):
            return self._wrap(target)
        raise TypeError(f"stub_experiments cannot decorate {target!r}")

    def _wrap(self, fn: Callable[..., Any]) -> Any:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await fn(*args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper


def active_stubs() -> dict[str, Stub]:
    """The stubs in force now, by bare name."""
    return {name: stub for name, stub in engine._stubs.items() if isinstance(stub, Stub)}
