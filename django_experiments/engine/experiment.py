"""The runtime experiment: resolution, run, publish, track, signature.

An instance is one experiment for one context. Subclasses add behaviours and rules with the
decorators in :mod:`django_experiments.engine.rules`; the admin row of the same name owns status,
treatments and weights. Resolution follows docs/architecture.md ("Resolution order").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

from django_experiments.conf import settings
from django_experiments.engine import definitions as defs
from django_experiments.engine import nesting
from django_experiments.engine.context import Context
from django_experiments.engine.errors import BehaviorMissingError
from django_experiments.engine.rollout import Rollout, resolve_rollout
from django_experiments.engine.rules import collect_rules
from django_experiments.engine.scope import Scope
from django_experiments.engine.stores import Store, get_store

logger = logging.getLogger("django_experiments")

RUNNING = "running"
PAUSED = "paused"
CONCLUDED = "concluded"

_warned_unknown: set[str] = set()
_store_warned_at = -1e9
STORE_WARNING_INTERVAL = 60.0


class Variant(NamedTuple):
    name: str
    payload: Any = None


Behavior = Callable[..., Any]
Rule = Callable[..., Any]


class Experiment:
    """Base class for code-defined experiments, and the default for admin-only ones."""

    #: The experiment's name (without NAME_PREFIX). Subclasses set it; the admin row matches it.
    name: str = ""
    #: Rollout strategy: a Rollout instance or class, a builtin name, or a dotted path.
    rollout: ClassVar[Rollout | type[Rollout] | str | None] = None

    # Filled by __init_subclass__ from the decorators in engine/rules.py.
    _class_behaviors: ClassVar[dict[str, Behavior]] = {}
    _class_excludes: ClassVar[list[Rule]] = []
    _class_segments: ClassVar[list[tuple[Rule, str]]] = []
    _class_callbacks: ClassVar[dict[str, list[Behavior]]] = {
        "before": [],
        "after": [],
        "around": [],
    }
    _enabled_override: ClassVar[Callable[[Any], bool] | None] = None
    _rollout_instance: ClassVar[Rollout | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        collect_rules(cls)
        cls._rollout_instance = None

    def __init__(
        self,
        name: str | None = None,
        variant: str | None = None,
        /,
        *,
        scope: Scope | None = None,
        **context: Any,
    ) -> None:
        base_name = name or type(self).name
        if not base_name:
            raise ValueError("an experiment needs a name")
        self.name = settings.full_name(base_name)
        self.context = Context(self.name, context, scope=scope)
        self._explicit = variant or None
        self._behaviors: dict[str, Behavior] = {}
        self._excludes: list[Rule] = []
        self._segments: list[tuple[Rule, str]] = []
        self._assigned: Variant | None = None
        self._excluded = False
        self._only_assigned_miss = False
        self._tracked_assignment = False
        self._ran = False
        self._result: Any = None
        self._definition_loaded = False
        self._definition: defs.Definition | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} key={self.context.key}>"

    # --- definition and store -------------------------------------------------------------

    @property
    def definition(self) -> defs.Definition | None:
        if not self._definition_loaded:
            self._definition = defs.get_definition(self.name)
            self._definition_loaded = True
            if self._definition is None:
                _unknown(self.name)
        return self._definition

    @property
    def store(self) -> Store:
        return get_store()

    def _store_get(self) -> str | None:
        definition = self.definition
        assert definition is not None
        try:
            return self.store.get(
                definition.store_name, self.context.key, self.context.migration_keys
            )
        except Exception:
            _store_failed("read")
            return None

    def _store_set(self, variant: str) -> None:
        definition = self.definition
        assert definition is not None
        try:
            self.store.set(definition.store_name, self.context.key, variant)
        except Exception:
            _store_failed("write")

    def store_increment(self) -> int:
        definition = self.definition
        assert definition is not None
        try:
            return self.store.increment(definition.store_name)
        except Exception:
            _store_failed("increment")
            return 1

    # --- status ---------------------------------------------------------------------------

    @property
    def rollout_strategy(self) -> Rollout:
        cls = type(self)
        if cls._rollout_instance is None:
            cls._rollout_instance = resolve_rollout(cls.rollout, settings.DEFAULT_ROLLOUT)
        return cls._rollout_instance

    @property
    def enabled(self) -> bool:
        """Running, and neither the class's ``enabled()`` nor the rollout says no."""
        definition = self.definition
        if definition is None or definition.status != RUNNING:
            return False
        override = type(self)._enabled_override
        if override is not None and not override(self):
            return False
        return self.rollout_strategy.enabled(self)

    @property
    def excluded(self) -> bool:
        self.assigned  # noqa: B018 - exclusion is decided during resolution
        return self._excluded or self._only_assigned_miss

    @property
    def should_track(self) -> bool:
        return self.enabled and self.context.trackable and not self.excluded

    # --- resolution -----------------------------------------------------------------------

    @property
    def assigned(self) -> Variant:
        if self._assigned is None:
            self._assigned = self._resolve()
        return self._assigned

    def _variant(self, name: str | None) -> Variant:
        definition = self.definition
        if definition is None:
            return Variant(name or "control")
        if name is None or name not in definition.by_name:
            name = definition.control
        treatment = definition.by_name.get(name)
        return Variant(name, treatment.payload if treatment is not None else None)

    def _resolve(self) -> Variant:
        definition = self.definition
        if definition is None:
            return Variant("control")
        if definition.status == CONCLUDED:
            return self._variant(definition.winner)
        if definition.status == PAUSED:
            return self._variant(self._valid(self._store_get()))
        if not self.enabled:
            return self._variant(None)
        if self._explicit is not None:
            if self._valid(self._explicit):
                self._store_set(self._explicit)
                return self._variant(self._explicit)
            logger.warning("Ignoring unknown variant %r for %s", self._explicit, self.name)
        forced = self._forced()
        if forced is not None:
            self._store_set(forced)
            return self._variant(forced)
        stored = self._valid(self._store_get())
        if stored is not None:
            return self._variant(stored)
        if self.context.only_assigned:
            self._only_assigned_miss = True
            return self._variant(None)
        if self._is_excluded():
            self._excluded = True
            return self._variant(None)
        chosen = self._segment() or self.rollout_strategy.resolve(self) or definition.control
        self._store_set(chosen)
        return self._variant(chosen)

    def _valid(self, name: str | None) -> str | None:
        definition = self.definition
        if name is None or definition is None or name not in definition.by_name:
            return None
        return name

    def _forced(self) -> str | None:
        scope = self.context.scope
        if scope is None or not scope.forced:
            return None
        return self._valid(scope.forced.get(self.name))

    def _is_excluded(self) -> bool:
        for rule in type(self)._class_excludes:
            if rule(self):
                return True
        return any(rule(self) for rule in self._excludes)

    def _segment(self) -> str | None:
        for rule, variant in [*type(self)._class_segments, *self._segments]:
            if rule(self) and self._valid(variant):
                return variant
        return None

    # --- inline registration (the call-site equivalent of gitlab's block form) -------------

    def on(self, variant: str, behavior: Behavior | None = None) -> Any:
        """Register or override a behaviour for ``variant`` on this instance.

        ``exp.on("candidate", lambda: ...)`` or as a decorator ``@exp.on("candidate")``.
        Inline behaviours take no arguments; class behaviours are methods.
        """
        if behavior is None:

            def decorator(fn: Behavior) -> Behavior:
                self._behaviors[variant] = fn
                return fn

            return decorator
        self._behaviors[variant] = behavior
        return self

    def exclude(self, rule: Rule) -> Experiment:
        """Add an exclusion rule for this instance; it runs after the class's rules."""
        self._excludes.append(rule)
        return self

    def segment(self, rule: Rule, variant: str) -> Experiment:
        self._segments.append((rule, variant))
        return self

    # --- run / publish / track ------------------------------------------------------------

    @property
    def behaviors(self) -> dict[str, Behavior]:
        cls_behaviors = {
            name: fn.__get__(self, type(self)) for name, fn in type(self)._class_behaviors.items()
        }
        return {**cls_behaviors, **self._behaviors}

    def run(self, variant: str | None = None) -> Any:
        """Run the assigned variant's behaviour (the variant name if none are registered)."""
        if self._ran:
            return self._result
        if variant is not None and self._assigned is None:
            self._explicit = variant
        with nesting.running(self):
            behaviors = self.behaviors
            name = self.assigned.name
            if behaviors:
                behavior = behaviors.get(name)
                if behavior is None:
                    raise BehaviorMissingError(
                        f"the {name!r} variant of experiment {self.name!r} has no behaviour; "
                        f"registered: {', '.join(sorted(behaviors))}"
                    )
            else:

                def behavior() -> str:
                    return name

            self._result = self._run_callbacks(behavior)
        self._ran = True
        if self.enabled:
            self.publish(self._result)
        return self._result

    def _run_callbacks(self, behavior: Behavior) -> Any:
        callbacks = type(self)._class_callbacks
        for fn in callbacks["before"]:
            fn(self)
        call: Callable[[], Any] = behavior
        for around in reversed(callbacks["around"]):
            call = _wrap_around(around, self, call)
        result = call()
        for fn in callbacks["after"]:
            fn(self)
        return result

    def publish(self, result: Any = None) -> dict[str, Any]:
        """Expose this experiment to the client layer and record the assignment event."""
        signature = self.signature
        scope = self.context.scope
        if scope is not None:
            scope.published[self.name] = signature
        self._track_assignment()
        return signature

    def _track_assignment(self) -> None:
        if self._tracked_assignment or not self.should_track:
            return
        self._tracked_assignment = True
        from django_experiments.tracking.events import emit_assignment

        emit_assignment(self)

    def track(self, event: str, value: float | int | None = None, **properties: Any) -> Any:
        """Record a custom event; nothing happens when this context should not be tracked."""
        if not self.should_track:
            return None
        from django_experiments.tracking.events import build_event, emit

        return emit(build_event(self, event, value, properties))

    @property
    def signature(self) -> dict[str, Any]:
        sig: dict[str, Any] = {"experiment": self.name, "variant": self.assigned.name}
        sig.update(self.context.signature)
        sig["excluded"] = self.excluded
        return sig

    @property
    def id(self) -> str:
        return f"{self.name}:{self.context.key}"


def _wrap_around(around: Behavior, exp: Experiment, inner: Callable[[], Any]) -> Callable[[], Any]:
    def call() -> Any:
        return around(exp, inner)

    return call


def _unknown(name: str) -> None:
    if name in _warned_unknown:
        return
    _warned_unknown.add(name)
    logger.warning("Experiment %r has no admin row: serving control, untracked", name)
    if settings.AUTO_CREATE_UNKNOWN:
        from django_experiments.services import create_draft

        create_draft(name)


def _store_failed(operation: str) -> None:
    # A dead Redis would otherwise log one warning per request: warn once a minute, debug-log
    # the rest.
    global _store_warned_at
    now = time.monotonic()
    if now - _store_warned_at >= STORE_WARNING_INTERVAL:
        _store_warned_at = now
        logger.warning(
            "Assignment store %s failed; serving deterministic assignments",
            operation,
            exc_info=True,
        )
    else:
        logger.debug("Assignment store %s failed", operation, exc_info=True)
