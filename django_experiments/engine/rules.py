"""Class-level decorators: behaviours, exclusion and segmentation rules, run callbacks.

Decorated methods are tagged here and collected once per class (base classes first) by
``Experiment.__init_subclass__``, so resolution never reflects over a class at call time.

Rules are bound to the attribute name, like gitlab-experiment's symbol filters: a subclass that
overrides a decorated method without decorating it again keeps the rule with the new logic; one
that decorates its override replaces the parent's tags.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django_experiments.engine.errors import ExistingBehaviorError

F = TypeVar("F", bound=Callable[..., Any])

_TAG = "_django_experiments_tags"
CALLBACK_KINDS = ("before", "around", "after")


def _tag(fn: F, kind: str, value: Any = None) -> F:
    tags = list(getattr(fn, _TAG, []))
    tags.append((kind, value))
    setattr(fn, _TAG, tags)
    return fn


def variant(name: str) -> Callable[[F], F]:
    """Register the method as the behaviour of variant ``name``: ``@variant("red")``."""
    if not isinstance(name, str) or not name:
        raise TypeError("@variant needs the variant name: @variant('red')")

    def decorator(fn: F) -> F:
        return _tag(fn, "behavior", name)

    return decorator


def control(fn: F) -> F:
    """Register the method as the control behaviour."""
    return _tag(fn, "behavior", "control")


def candidate(fn: F) -> F:
    """Register the method as the behaviour of the ``candidate`` variant."""
    return _tag(fn, "behavior", "candidate")


def exclude(fn: F) -> F:
    """A rule returning truthy excludes the context: control, untracked. First match wins."""
    return _tag(fn, "exclude")


def segment(variant: str) -> Callable[[F], F]:
    """A rule returning truthy assigns ``variant`` (stored). First match wins."""
    if not isinstance(variant, str) or not variant:
        raise TypeError("@segment needs the variant name: @segment('candidate')")

    def decorator(fn: F) -> F:
        return _tag(fn, "segment", variant)

    return decorator


def before_run(fn: F) -> F:
    """Called as ``fn(self)`` before the behaviour (only when enabled and not excluded)."""
    return _tag(fn, "before")


def after_run(fn: F) -> F:
    """Called as ``fn(self)`` after the behaviour (only when enabled and not excluded)."""
    return _tag(fn, "after")


def around_run(fn: F) -> F:
    """``def around(self, run): ...; return run()``: wraps the behaviour call.

    The first declared around hook is the outermost one.
    """
    return _tag(fn, "around")


def collect_rules(cls: type) -> None:
    """Precompute the class's behaviours, rules and callbacks (called once per subclass)."""
    # attribute name -> tags, in first-declaration order over the MRO (base classes first)
    entries: dict[str, list[tuple[str, Any]]] = {}
    for klass in reversed(cls.__mro__):
        seen_variants: dict[str, str] = {}
        for attr, obj in vars(klass).items():
            tags = getattr(obj, _TAG, None)
            if not tags:
                continue
            for kind, value in tags:
                if kind != "behavior":
                    continue
                if value in seen_variants and seen_variants[value] != attr:
                    raise ExistingBehaviorError(
                        f"{klass.__qualname__} registers two behaviours for the {value!r} "
                        f"variant: {seen_variants[value]}() and {attr}()"
                    )
                seen_variants[value] = attr
            entries[attr] = list(tags)

    behaviors: dict[str, Callable[..., Any]] = {}
    excludes: list[Callable[..., Any]] = []
    segments: list[tuple[Callable[..., Any], str]] = []
    callbacks: dict[str, list[Callable[..., Any]]] = {kind: [] for kind in CALLBACK_KINDS}
    for attr, tags in entries.items():
        fn = _final(cls, attr)
        if fn is None:
            continue
        for kind, value in tags:
            if kind == "behavior":
                behaviors[value] = fn
            elif kind == "exclude":
                excludes.append(fn)
            elif kind == "segment":
                segments.append((fn, value))
            else:
                callbacks[kind].append(fn)

    enabled = vars(cls).get("enabled")
    if callable(enabled) and not isinstance(enabled, property):
        # ``def enabled(self) -> bool`` in a subclass: keep ``exp.enabled`` a bool property and
        # treat the method as an extra condition, checked before the rollout's.
        cls._enabled_override = enabled  # type: ignore[attr-defined]
        base = next(k for k in cls.__mro__[1:] if isinstance(vars(k).get("enabled"), property))
        cls.enabled = vars(base)["enabled"]  # type: ignore[attr-defined]

    cls._class_behaviors = behaviors  # type: ignore[attr-defined]
    cls._class_excludes = tuple(excludes)  # type: ignore[attr-defined]
    cls._class_segments = tuple(segments)  # type: ignore[attr-defined]
    cls._class_callbacks = {k: tuple(v) for k, v in callbacks.items()}  # type: ignore[attr-defined]
    cls._has_callbacks = any(callbacks.values())  # type: ignore[attr-defined]
    cls._has_rules = bool(excludes or segments)  # type: ignore[attr-defined]
    cls._plain = not cls._has_rules and cls._enabled_override is None  # type: ignore[attr-defined]


def _final(cls: type, attr: str) -> Callable[..., Any] | None:
    """The attribute as the class resolves it (the most derived definition)."""
    for klass in cls.__mro__:
        if attr in vars(klass):
            obj = vars(klass)[attr]
            return obj if callable(obj) else None
    return None
