"""The runtime experiment: a facade for behaviours, run, publish, track and signature.

An instance is one experiment for one context. Subclasses add behaviours and rules with the
decorators in :mod:`django_experiments.engine.rules`; the admin row of the same name owns status,
treatments and weights. What variant a context gets is decided by
:func:`~django_experiments.engine.decision.decide` (the resolution order, written once); this
class only gathers its inputs, performs the store access the decision asks for
(engine/assignments.py) and reports the exposure through the wired hooks (engine/hooks.py).

Instances are cheap views over a ``_Resolution`` (context, definition, assigned variant). Inside
a scope (a request) the factory memoises the resolution per name and context, so every call site
gets its own instance (its own inline behaviours and run result, as in gitlab-experiment) while
the store is read once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from django_experiments.conf import settings
from django_experiments.engine import assignments, nesting
from django_experiments.engine import definitions as defs
from django_experiments.engine.context import Context
from django_experiments.engine.decision import (
    CONCLUDED,
    PAUSED,
    RUNNING,
    Decision,
    Reason,
    decide,
    needs_stored,
)
from django_experiments.engine.definitions import Variant
from django_experiments.engine.errors import BehaviorMissingError, ExperimentError
from django_experiments.engine.hooks import hooks
from django_experiments.engine.placement import place
from django_experiments.engine.rollout import Percent, Rollout, resolve_rollout
from django_experiments.engine.rules import collect_rules
from django_experiments.engine.scope import Scope
from django_experiments.engine.stores import NullStore, Store, get_store, report_failure

logger = logging.getLogger("django_experiments")

__all__ = ["CONCLUDED", "CONTROL", "EXPOSURE", "PAUSED", "RUNNING", "Experiment", "split_name"]

CONTROL = "control"
#: The event name of an exposure (gitlab-experiment's "assignment" event).
EXPOSURE = "assignment"

_warned_unknown: set[str] = set()


Behavior = Callable[..., Any]
Rule = Callable[..., Any]


class StubHook(Protocol):
    """What ``django_experiments.testing`` installs for a stubbed experiment name."""

    #: The variant the rollout step gives (None: the rollout strategy decides).
    variant: str | None
    #: Whether the experiment counts as enabled (replaces status, ``enabled()`` and rollout).
    enabled: bool
    #: An isolated store, so stubbed tests neither read nor leave real assignments.
    store: Store

    def definition_for(self, experiment: Experiment) -> defs.Definition: ...


#: Stubbed experiments by bare name (testing only; an empty dict costs one truth test).
_stubs: dict[str, StubHook] = {}
#: Rollout strategy instances per (class, rollout spec, DEFAULT_ROLLOUT).
_rollouts: dict[tuple[type, int, Any], Rollout] = {}


class _Resolution:
    """One experiment for one context: its definition, enablement and decision."""

    __slots__ = (
        "name",
        "base_name",
        "context",
        "loaded",
        "definition",
        "stub",
        "enabled",
        "decision",
        "assigned",
        "exposed",
        "choice",
        "store",
        "rollout",
        "slot",
    )

    def __init__(self, name: str, base_name: str, context: Context) -> None:
        self.name = name
        self.base_name = base_name
        self.context = context
        self.loaded = False
        self.definition: defs.Definition | None = None
        self.stub: StubHook | None = None
        self.enabled: bool | None = None
        self.decision: Decision | None = None
        self.assigned: Variant | None = None
        self.exposed = False
        self.choice: str | None | object = _UNDRAWN
        # Looked up once per resolution: each lookup reads settings.
        self.store: Store | None = None
        self.rollout: Rollout | None = None
        #: The context's slot in the definition's table, once hashed (-1: not yet).
        self.slot = -1

    def fork(self) -> _Resolution:
        """A private copy that has not resolved yet (same context and definition)."""
        other = _Resolution(self.name, self.base_name, self.context)
        other.loaded = self.loaded
        other.definition = self.definition
        other.stub = self.stub
        other.enabled = self.enabled
        other.store = self.store
        other.rollout = self.rollout
        other.slot = self.slot
        return other


def split_name(name: str) -> tuple[str, str]:
    """``(bare name, full name)``: NAME_PREFIX is added to, or recognised on, ``name``."""
    prefix = settings.NAME_PREFIX
    if not prefix:
        return name, name
    head = f"{prefix}_"
    if name.startswith(head):
        return name[len(head) :], name
    return name, head + name


class Experiment:
    """Base class for code-defined experiments, and the default for admin-only ones.

    Subclass it, set ``name`` to the admin row's name and decorate methods with ``control``,
    ``candidate``, ``variant(...)``, ``exclude``, ``segment(...)``, ``before_run``,
    ``after_run`` or ``around_run``. Do not override ``__init__``: memoised instances are built
    without calling it.
    """

    #: The experiment's name (without NAME_PREFIX). Subclasses set it; the admin row matches it.
    name: str = ""
    #: Rollout strategy: a Rollout instance or class, a builtin name, or a dotted path. None
    #: uses ``DJANGO_EXPERIMENTS["DEFAULT_ROLLOUT"]``.
    rollout: ClassVar[Rollout | type[Rollout] | str | None] = None

    # Filled by __init_subclass__ (rules.collect_rules) from the decorators in engine/rules.py.
    _class_behaviors: ClassVar[dict[str, Behavior]] = {}
    _class_excludes: ClassVar[tuple[Rule, ...]] = ()
    _class_segments: ClassVar[tuple[tuple[Rule, str], ...]] = ()
    _class_callbacks: ClassVar[dict[str, tuple[Behavior, ...]]] = {
        "before": (),
        "around": (),
        "after": (),
    }
    _has_callbacks: ClassVar[bool] = False
    _has_rules: ClassVar[bool] = False
    #: No rules and no ``enabled()`` override: resolution may take the fast path.
    _plain: ClassVar[bool] = True
    _enabled_override: ClassVar[Callable[[Any], bool] | None] = None

    base_name: str
    context: Context
    _state: _Resolution
    _shared: bool
    _explicit: str | None
    _assigned: Variant | None
    _behaviors: dict[str, Behavior]
    _excludes: tuple[Rule, ...]
    _segments: tuple[tuple[Rule, str], ...]
    _ran: bool
    _result: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        collect_rules(cls)

    def __init__(
        self,
        name: str | None = None,
        variant: str | None = None,
        /,
        *,
        scope: Scope | None = None,
        **context: Any,
    ) -> None:
        requested = name or type(self).name
        if not requested:
            raise ValueError("an experiment needs a name")
        base_name, full_name = split_name(requested)
        state = _Resolution(full_name, base_name, Context(full_name, context, scope=scope))
        self._setup(state, variant or None, shared=False)

    @classmethod
    def _create(
        cls,
        base_name: str,
        full_name: str,
        variant: str | None,
        scope: Scope | None,
        context: dict[str, Any],
    ) -> Experiment:
        """What ``__init__`` does, for the factory that already split the name."""
        self = cls.__new__(cls)
        # The factory's keyword arguments: a fresh dict, so the context may keep it.
        context_ = Context(full_name, context, scope=scope, owned=True)
        self._setup(_Resolution(full_name, base_name, context_), variant or None, shared=False)
        return self

    @classmethod
    def _from_resolution(cls, state: _Resolution, variant: str | None) -> Experiment:
        """A new instance (own behaviours and run result) over a memoised resolution."""
        self = cls.__new__(cls)
        self._setup(state, variant, shared=True)
        return self

    def _setup(self, state: _Resolution, variant: str | None, shared: bool) -> None:
        self.name = state.name
        self.base_name = state.base_name
        self.context = state.context
        self._state = state
        self._shared = shared
        self._explicit = variant
        self._assigned = None
        # Shared empties, replaced on the first inline registration: most instances have none.
        self._behaviors = _NO_BEHAVIORS
        self._excludes = ()
        self._segments = ()
        self._ran = False
        self._result = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} key={self.context.key}>"

    # --- definition and store -------------------------------------------------------------

    @property
    def definition(self) -> defs.Definition | None:
        state = self._state
        if not state.loaded:
            stub = _stubs.get(state.base_name) if _stubs else None
            if stub is not None:
                state.stub = stub
                state.definition = stub.definition_for(self)
            else:
                state.definition = defs.get_definition(state.base_name)
                if state.definition is None:
                    _unknown(state.base_name)
            state.loaded = True
        return state.definition

    @property
    def store(self) -> Store:
        stub = self._state.stub
        return stub.store if stub is not None else get_store()

    def _store(self) -> Store:
        state = self._state
        store = state.store
        if store is None:
            store = state.store = self.store
        return store

    def store_increment(self) -> int:
        """An atomic per-experiment counter (round-robin rollout); 1 if the store is down."""
        definition = self.definition
        assert definition is not None
        try:
            return self._store().increment(definition.store_name)
        except Exception:
            _store_failed("increment")
            return 1

    # --- status ---------------------------------------------------------------------------

    @property
    def rollout_strategy(self) -> Rollout:
        cls = type(self)
        spec = cls.rollout
        default = settings.DEFAULT_ROLLOUT if spec is None else None
        key = (cls, id(spec), default)
        strategy = _rollouts.get(key)
        if strategy is None:
            if len(_rollouts) > 1024:  # specs replaced at runtime (tests): never grow unbounded
                _rollouts.clear()
            strategy = _rollouts[key] = resolve_rollout(spec, default or "percent")
        return strategy

    def _rollout(self) -> Rollout:
        state = self._state
        rollout = state.rollout
        if rollout is None:
            rollout = state.rollout = self.rollout_strategy
        return rollout

    @property
    def enabled(self) -> bool:
        """Running, and neither the class's ``enabled()`` nor the rollout says no.

        Decided once per resolution: the class's ``enabled()`` is the cheapest early exit and
        should stay cheap, but it is not called again for every ``should_track``.
        """
        state = self._state
        enabled = state.enabled
        if enabled is None:
            enabled = state.enabled = self._compute_enabled()
        return enabled

    def _compute_enabled(self) -> bool:
        state = self._state
        definition = state.definition if state.loaded else self.definition
        stub = state.stub
        if stub is not None:
            return stub.enabled
        if definition is None or definition.status != RUNNING:
            return False
        override = type(self)._enabled_override
        if override is not None and not override(self):
            return False
        rollout = self._rollout()
        if type(rollout).enabled is Rollout.enabled:  # the base answers True: skip the call
            return True
        return bool(rollout.enabled(self))

    @property
    def excluded(self) -> bool:
        """Excluded by a rule, ``only_assigned`` without a stored variant, or outside the
        experiment's range of its namespace."""
        return self.decision.excluded

    @property
    def should_track(self) -> bool:
        """Whether this context's exposure and events are recorded (see ``Decision.track``)."""
        return self.decision.track

    # --- resolution -----------------------------------------------------------------------

    @property
    def decision(self) -> Decision:
        """What the resolution order decided for this context (resolving it if needed).

        Reading it records no exposure: code that only needs to know (the events endpoint,
        ``track()``, assertions) uses it; code that shows the variant uses ``assigned``.
        """
        self._resolved()
        decision = self._state.decision
        assert decision is not None
        return decision

    @property
    def assigned(self) -> Variant:
        """The variant; the first read records the exposure (once per resolution)."""
        assigned = self._assigned
        if assigned is None:
            assigned = self._resolved()
        state = self._state
        if not state.exposed:
            state.exposed = True
            made = state.decision
            # An exposure that is not tracked is no event at all (captures skip it too).
            if made is not None and made.track:
                hooks.on_event(self, EXPOSURE, None, {}, True)
        return assigned

    def _resolved(self) -> Variant:
        """The variant, resolving once per memoised resolution; no exposure."""
        assigned = self._assigned
        if assigned is None:
            state = self._state
            assigned = state.assigned
            if assigned is None:
                decision = self._resolve()
                state.decision = decision
                definition = state.definition
                assigned = definition.variants.get(decision.variant) if definition else None
                if assigned is None:
                    assigned = self._variant(decision.variant)
                state.assigned = assigned
            self._assigned = assigned
        return assigned

    def _variant(self, name: str) -> Variant:
        definition = self._state.definition
        if definition is None:
            return Variant(name)
        variant = definition.variants.get(name)
        if variant is None:
            variant = definition.variants.get(definition.control) or Variant(definition.control)
        return variant

    def _resolve(self) -> Decision:
        """Gather the facts, let :func:`decide` choose, and do the store work it asks for.

        Written for speed (it runs once per experiment per request): the facts are read
        inline rather than through the public properties.
        """
        state = self._state
        definition = state.definition if state.loaded else self.definition
        if definition is None:
            return _MISSING
        stub = state.stub
        status = definition.status if stub is None else (RUNNING if stub.enabled else "draft")
        cls = type(self)
        rollout = state.rollout or self._rollout()
        enabled = False
        if status == RUNNING:
            known = state.enabled
            if known is not None:
                enabled = known
            else:
                if stub is None and cls._enabled_override is None and rollout.plain:
                    enabled = True  # nothing can switch it off: skip the calls
                else:
                    enabled = self._compute_enabled()
                state.enabled = enabled
        by_name = definition.by_name
        explicit = self._explicit
        if explicit is not None and explicit not in by_name:
            logger.warning("Ignoring unknown variant %r for %s", explicit, self.name)
            explicit = None
        context = self.context
        forced = None
        if enabled:
            scope = context.scope
            if scope is not None and scope.forced:
                forced = self._valid(scope.forced.get(self.name))
        # Holdouts and namespaces (engine/placement.py): one cached hash per partition.
        placement = None
        population = definition.population
        if population is not None and explicit is None and forced is None:
            placement = place(population, context)
        stored: str | None = None
        claimed = False  # the rollout's choice was stored by the read itself
        stale = False  # a stored name that is no longer a variant: overwrite, do not claim
        only_assigned = context.only_assigned
        # No rules and a deterministic rollout: the rollout's choice may be computed before
        # the store is asked, so that the read and the claim are one round trip.
        plain = (
            stub is None
            and rollout.deterministic
            and not cls._has_rules
            and not self._excludes
            and not self._segments
        )
        choice: str | None = None
        if needs_stored(definition, status, enabled, explicit, forced, placement):
            raw: str | None
            if plain and status == RUNNING and not context.only_assigned:
                predictable = False
                if type(rollout) is Percent and rollout.distribution is None:
                    # The default rollout, inlined: the admin's slot table.
                    slot = state.slot
                    if slot < 0:
                        slot = state.slot = definition.slot_for_key(context.key)
                    index = definition.table[slot]  # Definition.treatment_at, inlined
                    choice = None if index == 255 else definition.treatments[index].name
                    unchanged = definition.unchanged
                    predictable = bool(unchanged) and unchanged[slot] == 1
                else:
                    choice = rollout.resolve(self)
                if choice is None or choice not in by_name:
                    choice = definition.control
                state.choice = choice
                if type(state.store) is NullStore:  # nothing sticks: the table decides
                    raw, claimed = choice, True
                else:  # also builds the store (a failure there is a store failure)
                    raw, claimed = self._claim(choice, predictable)
            else:
                raw, readable = self._read()
                if not readable and context.only_assigned:
                    # The store cannot say whether this context was assigned: answer as
                    # without a store (the deterministic choice), never stored below. A
                    # client event posted while Redis is down is then recorded, not dropped;
                    # results only count it for a context that has an exposure.
                    only_assigned = False
            if not claimed and raw is not None:
                stored = raw if raw in by_name else None
                stale = stored is None
        decision = decide(
            definition,
            status,
            enabled,
            explicit,
            forced,
            stored,
            only_assigned,
            context.trackable,
            None if claimed else self,
            choice,
            placement,
        )
        if not decision.store or claimed:
            return decision
        if context.only_assigned:  # reached only when the store could not be read
            return decision._replace(store=False)
        if decision.overwrite or stale:
            self._overwrite(decision.variant, decision.hand_picked)
            return decision
        winner, created = self._claim(decision.variant)
        if created or winner == decision.variant:
            return decision
        # Another writer stored first: serve what is stored, as every later request will.
        if winner not in by_name:
            self._overwrite(decision.variant)
            return decision
        return decision._replace(variant=winner, reason=Reason.STORED, store=False)

    # The decision's questions (engine/decision.py ``Rules``), asked only when the order
    # reaches them.

    def is_excluded(self) -> bool:
        return self._is_excluded()

    def segment_variant(self) -> str | None:
        return self._segment()

    def rollout_variant(self) -> str | None:
        """The rollout's choice, drawn once per resolution (a random draw is not repeated)."""
        state = self._state
        choice = state.choice
        if choice is _UNDRAWN:
            choice = state.choice = self._rollout_choice()
        return choice  # type: ignore[return-value]  # a str or None once drawn

    def _predictable(self) -> bool:
        """Whether resolving will need no read: the default rollout on an unchanged slot for
        the scope's returning visitor (a predictable claim, engine/assignments.py). The
        explicit multi-read skips these."""
        state = self._state
        definition = state.definition if state.loaded else self.definition
        if definition is None or not definition.unchanged or state.stub is not None:
            return False
        if definition.status != RUNNING or self._explicit is not None or self._segments:
            return False
        cls = type(self)
        if cls._has_rules or cls._enabled_override is not None or self._excludes:
            return False
        rollout = self._rollout()
        if type(rollout) is not Percent or rollout.distribution is not None:
            return False
        context = self.context
        scope = assignments.predictable_scope(context)
        if scope is None or context.only_assigned or self.name in scope.forced:
            return False
        slot = state.slot
        if slot < 0:
            slot = state.slot = definition.slot_for_key(context.key)
        return definition.unchanged[slot] == 1

    def _read(self) -> tuple[str | None, bool]:
        """The stored variant, and False when the store could not be read."""
        definition = self._state.definition
        assert definition is not None
        try:
            return assignments.read(self._store(), definition.store_name, self.context), True
        except Exception:
            _store_failed("read")
            return None, False

    def _claim(self, variant: str, predictable: bool = False) -> tuple[str, bool]:
        definition = self._state.definition
        assert definition is not None
        try:
            store = self._store()
            if type(store) is NullStore:  # nothing sticks: the table decides
                return variant, True
            return assignments.claim(
                store, definition.store_name, self.context, variant, predictable
            )
        except Exception:
            _store_failed("write")
            return variant, True

    def _overwrite(self, variant: str, hand_picked: bool = False) -> None:
        definition = self._state.definition
        assert definition is not None
        try:
            assignments.overwrite(
                self._store(), definition.store_name, self.context, variant, hand_picked
            )
        except Exception:
            _store_failed("write")

    def _rollout_choice(self) -> str | None:
        stub = self._state.stub
        if stub is not None and stub.variant is not None:
            return stub.variant
        return self._rollout().resolve(self)

    def _valid(self, name: str | None) -> str | None:
        # Only called once the definition is loaded (from _resolve and later).
        definition = self._state.definition
        if name is None or definition is None or name not in definition.by_name:
            return None
        return name

    def _forced(self) -> str | None:
        scope = self.context.scope
        if scope is None or not scope.forced:
            return None
        return self._valid(scope.forced.get(self.name))

    def _is_excluded(self) -> bool:
        """Class rules in declaration order, then inline ones; the first truthy one wins."""
        for rule in type(self)._class_excludes:
            if rule(self):
                return True
        for rule in self._excludes:  # noqa: SIM110 - a loop: no generator per resolution
            if rule(self):
                return True
        return False

    def _segment(self, validate: bool = True) -> str | None:
        """The variant of the first matching segment rule (class rules, then inline ones)."""
        for rule, variant in type(self)._class_segments:
            if rule(self) and (not validate or self._valid(variant)):
                return variant
        for rule, variant in self._segments:
            if rule(self) and (not validate or self._valid(variant)):
                return variant
        return None

    def _own_resolution(self, what: str) -> None:
        """Inline rules and variants change resolution: stop sharing the memoised one."""
        if self._assigned is not None:
            raise ExperimentError(
                f"{what} on experiment {self.name!r} must come before its variant is resolved "
                "(before .assigned, .run(), .publish(), .track(), .excluded or .signature)"
            )
        if self._shared:
            self._state = self._state.fork()
            self._shared = False

    # --- inline registration (the call-site equivalent of gitlab's block form) -------------

    def on(self, variant: str, behavior: Behavior | None = None) -> Any:
        """Register or override a behaviour for ``variant`` on this instance.

        ``exp.on("candidate", lambda: ...)`` (returns the experiment, so calls chain) or as a
        decorator ``@exp.on("candidate")``. Inline behaviours take no arguments; class
        behaviours are methods. Inline wins over the class.
        """
        if behavior is None:

            def decorator(fn: Behavior) -> Behavior:
                self._behaviors = {**self._behaviors, variant: fn}
                return fn

            return decorator
        self._behaviors = {**self._behaviors, variant: behavior}
        return self

    def exclude(self, rule: Rule | bool = True) -> Experiment:
        """Exclude this context: ``exp.exclude()`` always, ``exp.exclude(rule)`` if it matches.

        Inline rules take the experiment as their argument and run after the class's rules.
        """
        self._own_resolution("exclude()")
        if isinstance(rule, bool):
            flag = rule
            self._excludes = (*self._excludes, lambda _exp: flag)
        else:
            self._excludes = (*self._excludes, rule)
        return self

    def segment(self, rule: Rule | bool, variant: str) -> Experiment:
        """Assign ``variant`` (stored) when ``rule(experiment)`` is truthy; after class rules."""
        self._own_resolution("segment()")
        if isinstance(rule, bool):
            flag = rule
            self._segments = (*self._segments, (lambda _exp: flag, variant))
        else:
            self._segments = (*self._segments, (rule, variant))
        return self

    # --- run / publish / track ------------------------------------------------------------

    @property
    def behaviors(self) -> dict[str, Behavior]:
        """Every registered behaviour (class methods bound, inline overrides applied)."""
        cls = type(self)
        bound = {name: fn.__get__(self, cls) for name, fn in cls._class_behaviors.items()}
        bound.update(self._behaviors)
        return bound

    def behavior_for(self, variant: str) -> Behavior:
        """The callable ``run()`` would call for ``variant``."""
        inline = self._behaviors.get(variant)
        if inline is not None:
            return inline
        cls = type(self)
        method = cls._class_behaviors.get(variant)
        if method is not None:
            return method.__get__(self, cls)
        if not self._behaviors and not cls._class_behaviors:
            return lambda: variant
        registered = ", ".join(repr(n) for n in self.behaviors) or "none"
        raise BehaviorMissingError(
            f"the {variant!r} variant of experiment {self.name!r} has no behaviour "
            f"(registered: {registered}). Add a method decorated with @variant({variant!r}) to "
            f"{cls.__qualname__}, or pass one inline: exp.on({variant!r}, ...)."
        )

    def run(self, variant: str | None = None, /, **behaviors: Behavior) -> Any:
        """Run the assigned variant's behaviour and return its result.

        ``variant`` assigns manually (stored) when nothing is resolved yet; keyword arguments
        are inline behaviours (``exp.run(candidate=lambda: ...)``). With no behaviours at all,
        the result is the variant name. A second call returns the first result.
        """
        if self._ran:
            return self._result
        if behaviors:
            self._behaviors = {**self._behaviors, **behaviors}
        if variant is not None and self._assigned is None and variant != self._explicit:
            self._own_resolution("run(variant)")
            self._explicit = variant
        behavior = self.behavior_for(self.assigned.name)
        if self.enabled and not self.excluded:
            with nesting.running(self, sys._getframe()):
                has_callbacks = type(self)._has_callbacks
                result = self._run_callbacks(behavior) if has_callbacks else behavior()
        else:
            # gitlab-experiment's run_skipped chain: no callbacks, no nesting bookkeeping.
            result = behavior()
        self._ran = True
        self._result = result
        if self.enabled:
            self.publish(result)
        return result

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

    def nest_experiment(self, nested: Experiment) -> None:
        """Called when ``nested`` runs inside this experiment's run.

        The default applies ``DJANGO_EXPERIMENTS["NESTING"]`` (raise, warn or allow); override
        to allow specific pairs.
        """
        nesting.default_nest_behavior(self, nested)

    def publish(self, result: Any = None) -> dict[str, Any]:
        """Expose this experiment to the client layer (``experiments_json``) without running.

        Publishing is showing: it records the exposure (once, however often it is called).
        """
        signature = self.signature
        scope = self.context.scope
        if scope is not None:
            scope.published[self.name] = signature
        self.assigned  # noqa: B018 - the exposure
        return signature

    def track(self, event: str, value: float | int | None = None, **properties: Any) -> Any:
        """Record a custom event; nothing is recorded when this context is not tracked.

        Tracking is not an exposure: a conversion recorded for a context that was never shown
        the variant (a server-side purchase, a webhook) is kept, and results count it only
        after that context's exposure. Returns the event as built (None when not tracked);
        an invalid name, value or properties raise ``InvalidEventError`` (a ``ValueError``).
        """
        return hooks.on_event(self, event, value, properties, self.should_track)

    @property
    def signature(self) -> dict[str, Any]:
        sig: dict[str, Any] = {"experiment": self.name, "variant": self._resolved().name}
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
    hooks.on_unknown(name)


#: The decision for a name with no definition (always the same).
_MISSING = Decision("control", Reason.MISSING, False, False)
#: The inline behaviours of an instance that registered none (never mutated).
_NO_BEHAVIORS: dict[str, Behavior] = {}
#: ``_Resolution.choice`` before the rollout was asked.
_UNDRAWN = object()


def _store_failed(operation: str) -> None:
    report_failure("Assignment store %s failed; serving deterministic assignments", operation)
