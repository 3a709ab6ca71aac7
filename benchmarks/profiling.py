"""Hot spots with exact file:line, for the findings of a failed budget."""

from __future__ import annotations

import cProfile
import inspect
import pstats
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def where(obj: Any) -> str:
    """``path:line`` of a function/method/class as the code is *now* (files are in flux)."""
    target = inspect.unwrap(getattr(obj, "fget", obj))
    try:
        path = Path(inspect.getsourcefile(target) or "?")
        _, line = inspect.getsourcelines(target)
    except (OSError, TypeError):
        return getattr(target, "__qualname__", repr(target))
    try:
        shown = str(path.resolve().relative_to(ROOT))
    except ValueError:
        shown = str(path).split("site-packages/")[-1]
    return f"{shown}:{line}"


def top(
    fn: Callable[[], object], limit: int = 6, timer: Callable[[], float] | None = None
) -> list[str]:
    """The functions with the most own time while running ``fn`` (cProfile, tottime).

    ``timer``: e.g. ``time.thread_time`` to count only this thread's CPU (waits and other
    threads' turns on the GIL then cost nothing); cProfile's wall clock by default.
    """
    profiler = cProfile.Profile(timer) if timer is not None else cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda item: item[1][2],
        reverse=True,
    )
    out = []
    for (filename, line, name), (_, calls, tottime, _, _) in rows[:limit]:
        try:
            shown = str(Path(filename).resolve().relative_to(ROOT))
        except ValueError:
            shown = filename.split("site-packages/")[-1]
        out.append(
            f"`{shown}:{line}` {name} — {100 * tottime / total:.0f} % own time, {calls} calls"
        )
    return out
