"""Assertions mirroring gitlab-experiment's RSpec matchers, as plain functions.

They raise ``AssertionError`` with the matcher's message, so they work in pytest and in Django
``TestCase`` alike. ``experiment`` may be a name, an Experiment subclass or an instance.

======================================  ===============================================
RSpec                                   here
======================================  ===============================================
``register_behavior(:x).with(v)``       ``assert_registers_behavior(exp, "x", returns=v)``
``exclude(actor: u)``                   ``assert_excludes(exp, actor=u)``
``segment(actor: u).into(:x)``          ``assert_segments(exp, into="x", actor=u)``
``track(:e, value: 1).for(:x)``         ``with expect_tracked(exp, "e", value=1, variant="x")``
``...with_context(k: v)``               ``... context={"k": v}``
``...on_next_instance``                 ``... on_next_instance=True`` (or pass a name/class)
``not_to ...``                          ``assert_not_*`` / ``expect_not_tracked``
======================================  ===============================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from django_experiments.engine.experiment import Experiment
from django_experiments.engine.registry import class_for
from django_experiments.testing.events import CapturedEvent, EventCapture, why_untracked


class _Missing:
    def __repr__(self) -> str:
        return "<not given>"


MISSING: Any = _Missing()


def _instance(target: Any, context: Mapping[str, Any]) -> Experiment:
    if isinstance(target, Experiment):
        if not context:
            return target
        merged = {**target.context.value, **context}
        return type(target)(target.base_name, **merged)
    if isinstance(target, type) and issubclass(target, Experiment):
        return target(**context)
    if isinstance(target, str):
        return class_for(target)(target, **context)
    raise TypeError(f"expected an experiment name, class or instance, got {target!r}")


def _context_text(context: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v!r}" for k, v in context.items()) + "}"


def _rule_name(rule: Any) -> str:
    return f"{getattr(rule, '__qualname__', repr(rule))}()"


def _fail(message: str) -> None:
    __tracebackhide__ = True
    raise AssertionError(message)


# --- behaviours ---------------------------------------------------------------------------


def assert_registers_behavior(experiment: Any, variant: str, /, *, returns: Any = MISSING) -> None:
    """The experiment has a behaviour for ``variant`` (returning ``returns``, if given)."""
    __tracebackhide__ = True
    exp = _instance(experiment, {})
    behaviors = exp.behaviors
    behavior = behaviors.get(variant)
    if returns is MISSING:
        if behavior is None:
            _fail(
                f"expected the {variant!r} behavior to be registered\n"
                f"  behaviors: {list(behaviors)!r}"
            )
        return
    actual = behavior() if behavior is not None else MISSING
    if behavior is None or actual != returns:
        _fail(
            f"expected the {variant!r} behavior to be registered with a return value\n"
            f"  expected return: {returns!r}\n"
            f"  actual return: {actual!r}"
            + ("" if behavior is not None else f"\n  behaviors: {list(behaviors)!r}")
        )


def assert_not_registers_behavior(experiment: Any, variant: str, /) -> None:
    __tracebackhide__ = True
    exp = _instance(experiment, {})
    behaviors = exp.behaviors
    if variant in behaviors:
        _fail(
            f"expected the {variant!r} behavior not to be registered\n"
            f"  behaviors: {list(behaviors)!r}"
        )


# --- exclusion and segmentation -----------------------------------------------------------


def _matching_exclusion(exp: Experiment) -> Any:
    for rule in (*type(exp)._class_excludes, *exp._excludes):
        if rule(exp):
            return rule
    return None


def _exclusion_rules(exp: Experiment) -> str:
    rules = [*type(exp)._class_excludes, *exp._excludes]
    return ", ".join(_rule_name(r) for r in rules) or "none"


def assert_excludes(experiment: Any, /, **context: Any) -> None:
    """An exclusion rule matches this context (only the rules run: no store, no rollout)."""
    __tracebackhide__ = True
    exp = _instance(experiment, context)
    if _matching_exclusion(exp) is None:
        _fail(
            f"expected {_context_text(context)} to be excluded from {exp.name!r}\n"
            f"  exclusion rules: {_exclusion_rules(exp)}"
        )


def assert_not_excludes(experiment: Any, /, **context: Any) -> None:
    __tracebackhide__ = True
    exp = _instance(experiment, context)
    rule = _matching_exclusion(exp)
    if rule is not None:
        _fail(
            f"expected {_context_text(context)} not to be excluded from {exp.name!r}\n"
            f"  matched rule: {_rule_name(rule)}"
        )


def assert_segments(experiment: Any, /, into: str | None = None, **context: Any) -> None:
    """A segmentation rule matches this context (and assigns ``into``, if given)."""
    __tracebackhide__ = True
    if into is not None and (not isinstance(into, str) or not into):
        raise ValueError("into= must be a variant name")
    exp = _instance(experiment, context)
    actual = exp._segment(validate=False)
    if into is None:
        if actual is None:
            _fail(f"expected {_context_text(context)} to be segmented in {exp.name!r}")
        return
    if actual != into:
        _fail(
            f"expected {_context_text(context)} to be segmented into variant in {exp.name!r}\n"
            f"  expected variant: {into!r}\n"
            f"  actual variant: {actual!r}"
        )


def assert_not_segments(experiment: Any, /, **context: Any) -> None:
    __tracebackhide__ = True
    exp = _instance(experiment, context)
    actual = exp._segment(validate=False)
    if actual is not None:
        _fail(
            f"expected {_context_text(context)} not to be segmented in {exp.name!r}\n"
            f"  actual variant: {actual!r}"
        )


# --- tracking -----------------------------------------------------------------------------


class TrackExpectation:
    """An expected (or forbidden) tracked event, checked against captured events.

    Used through :func:`expect_tracked` / :func:`expect_not_tracked` (context managers that
    capture the block) or ``experiment_events.assert_tracked(...)`` (after the fact).
    """

    def __init__(
        self,
        experiment: Any,
        event: str,
        /,
        *,
        negated: bool = False,
        value: Any = MISSING,
        properties: Mapping[str, Any] | None = None,
        variant: str | None = None,
        context: Mapping[str, Any] | None = None,
        on_next_instance: bool = False,
    ) -> None:
        if negated and (variant is not None or context is not None):
            raise ValueError("cannot give variant= or context= when expecting no tracking")
        if variant is not None and (not isinstance(variant, str) or not variant):
            raise ValueError("variant= must be a variant name")
        if isinstance(experiment, Experiment):
            self.instance: Experiment | None = None if on_next_instance else experiment
            self.cls: type[Experiment] | None = None
            self.names = {experiment.name, experiment.base_name}
        elif isinstance(experiment, type) and issubclass(experiment, Experiment):
            self.instance, self.cls = None, experiment
            self.names = {experiment.name}
        elif isinstance(experiment, str) and experiment:
            self.instance, self.cls = None, None
            self.names = {experiment}
        else:
            raise TypeError(f"expected an experiment name, class or instance, got {experiment!r}")
        self.target = experiment
        self.event = event
        self.negated = negated
        self.value = value
        self.properties = dict(properties) if properties is not None else None
        self.variant = variant
        self.context = dict(context) if context is not None else None
        self._capture: EventCapture | None = None

    def _of_target(self, captured: CapturedEvent) -> bool:
        exp = captured.experiment
        if self.instance is not None:
            return exp is self.instance
        if self.cls is not None and not isinstance(exp, self.cls):
            return False
        return bool(self.names & {exp.name, exp.base_name})

    def _matches(self, captured: CapturedEvent) -> bool:
        if not captured.tracked or captured.name != self.event:
            return False
        if self.value is not MISSING and captured.value != self.value:
            return False
        if self.properties is not None and captured.properties != self.properties:
            return False
        if self.variant is not None and captured.variant != self.variant:
            return False
        if self.context is not None:
            values = captured.experiment.context.value
            if any(k not in values or values[k] != v for k, v in self.context.items()):
                return False
        return True

    def _describe_target(self) -> str:
        if self.instance is not None:
            return repr(self.instance)
        if self.cls is not None:
            return self.cls.__qualname__
        return f"experiment {sorted(self.names)[0]!r}"

    def message(self, captured: Iterable[CapturedEvent]) -> str:
        base = (
            f"expected {self._describe_target()} {'not to' if self.negated else 'to'} "
            f"have tracked {self.event!r}"
        )
        details: list[str] = []
        if self.variant is not None:
            base += " for variant"
        if self.context is not None:
            base += " with context"
        if self.value is not MISSING:
            details.append(f"  expected value: {self.value!r}")
        if self.properties is not None:
            details.append(f"  expected properties: {self.properties!r}")
        of_target = [c for c in captured if self._of_target(c)]
        if self.variant is not None:
            details.append(f"  expected variant: {self.variant!r}")
            actual = sorted({c.variant for c in of_target}) or None
            details.append(f"  actual variant: {actual!r}")
        if self.context is not None:
            details.append(f"  expected context: {self.context!r}")
            contexts = [c.experiment.context.value for c in of_target]
            details.append(f"  actual context: {contexts or None!r}")
        if of_target:
            details.append("  captured:")
            details.extend(f"    - {c.describe()}" for c in of_target)
        else:
            details.append("  captured: nothing for this experiment")
            if not self.negated:
                name = sorted(self.names)[0]
                details.append(
                    "  (is the experiment enabled? In tests, stub it so tracking is permitted: "
                    f"stub_experiments({{{name!r}: True}}))"
                )
        return "\n".join([base, *details])

    def check(self, captured: Iterable[CapturedEvent]) -> None:
        __tracebackhide__ = True
        captured = list(captured)
        found = any(self._of_target(c) and self._matches(c) for c in captured)
        if found == self.negated:
            _fail(self.message(captured))

    def __enter__(self) -> TrackExpectation:
        self._capture = EventCapture().start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        capture = self._capture
        assert capture is not None
        capture.stop()
        if exc_type is None:
            self.check(capture.all)


def expect_tracked(
    experiment: Any,
    event: str,
    /,
    *,
    value: Any = MISSING,
    properties: Mapping[str, Any] | None = None,
    variant: str | None = None,
    context: Mapping[str, Any] | None = None,
    on_next_instance: bool = False,
) -> TrackExpectation:
    """``with expect_tracked("cta", "clicked", value=1): ...`` fails unless the block tracks it.

    An instance matches only events it tracked itself unless ``on_next_instance=True``; a name
    or class matches any instance (gitlab's ``on_next_instance``).
    """
    return TrackExpectation(
        experiment,
        event,
        value=value,
        properties=properties,
        variant=variant,
        context=context,
        on_next_instance=on_next_instance,
    )


def expect_not_tracked(
    experiment: Any,
    event: str,
    /,
    *,
    value: Any = MISSING,
    properties: Mapping[str, Any] | None = None,
    on_next_instance: bool = False,
) -> TrackExpectation:
    """``with expect_not_tracked("cta", "clicked"): ...`` fails if the block tracks it."""
    return TrackExpectation(
        experiment,
        event,
        negated=True,
        value=value,
        properties=properties,
        on_next_instance=on_next_instance,
    )


__all__ = [
    "MISSING",
    "TrackExpectation",
    "assert_excludes",
    "assert_not_excludes",
    "assert_not_registers_behavior",
    "assert_not_segments",
    "assert_registers_behavior",
    "assert_segments",
    "expect_not_tracked",
    "expect_tracked",
    "why_untracked",
]
