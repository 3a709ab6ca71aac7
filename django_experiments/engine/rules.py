"""Class-level decorators: behaviours, exclusion and segmentation rules, run callbacks.

Decorated methods are tagged here and collected in definition order (base classes first) by
``Experiment.__init_subclass__``, so subclasses inherit and extend their parents' rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_TAG = "_django_experiments_tags"


def _tag(fn: F, kind: str, value: Any = None) -> F:
    tags = list(getattr(fn, _TAG, []))
    tags.append((kind, value))
    setattr(fn, _TAG, tags)
    return fn


def variant(name: str) -> Callable[[F], F]:
    """Register the method as the behaviour of variant ``name``."""

    def decorator(fn: F) -> F:
        return _tag(fn, "behavior", name)

    return decorator


def control(fn: F) -> F:
    return _tag(fn, "behavior", "control")


def candidate(fn: F) -> F:
    return _tag(fn, "behavior", "candidate")


def exclude(fn: F) -> F:
    """A rule returning truthy excludes the context: control, untracked. First match wins."""
    return _tag(fn, "exclude")


def segment(variant: str) -> Callable[[F], F]:
    """A rule returning truthy assigns ``variant`` (stored). First match wins."""

    def decorator(fn: F) -> F:
        return _tag(fn, "segment", variant)

    return decorator


def before_run(fn: F) -> F:
    return _tag(fn, "before")


def after_run(fn: F) -> F:
    return _tag(fn, "after")


def around_run(fn: F) -> F:
    """``def around(self, run): ...; return run()``: wraps the behaviour call."""
    return _tag(fn, "around")


def collect_rules(cls: type) -> None:
    behaviors: dict[str, Callable[..., Any]] = {}
    excludes: list[Callable[..., Any]] = []
    segments: list[tuple[Callable[..., Any], str]] = []
    callbacks: dict[str, list[Callable[..., Any]]] = {"before": [], "after": [], "around": []}
    seen: set[str] = set()
    for klass in reversed(cls.__mro__):
        for attr, fn in vars(klass).items():
            tags = getattr(fn, _TAG, None)
            if not tags:
                continue
            if attr in seen:
                # Overridden in a subclass: the override's tags replace the parent's.
                excludes = [f for f in excludes if f.__name__ != attr]
                segments = [(f, v) for f, v in segments if f.__name__ != attr]
                for key in callbacks:
                    callbacks[key] = [f for f in callbacks[key] if f.__name__ != attr]
            seen.add(attr)
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
        # treat the method as an extra, cheapest-first condition.
        cls._enabled_override = enabled  # type: ignore[attr-defined]
        base = next(k for k in cls.__mro__[1:] if isinstance(vars(k).get("enabled"), property))
        cls.enabled = vars(base)["enabled"]  # type: ignore[attr-defined]
    cls._class_behaviors = behaviors  # type: ignore[attr-defined]
    cls._class_excludes = excludes  # type: ignore[attr-defined]
    cls._class_segments = segments  # type: ignore[attr-defined]
    cls._class_callbacks = callbacks  # type: ignore[attr-defined]
