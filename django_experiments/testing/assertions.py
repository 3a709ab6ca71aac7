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

from collections.abc import Mapping
from typing import Any

from django_experiments.engine.experiment import Experiment
from django_experiments.engine.registry import class_for
from django_experiments.testing.capture import why_untracked
from django_experiments.testing.expectations import MISSING, TrackExpectation, _fail


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
