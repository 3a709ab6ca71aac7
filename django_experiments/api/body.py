"""Parsing a client events body: JSON, bounded in depth, with a reason when it is refused.

``json.loads`` recurses once per nesting level, so a 2 KB body of ``[[[[…`` raised
``RecursionError`` (a 500), and a body just shallow enough to parse would blow up later when
its properties are encoded again. Depth is bounded here, before anything else looks at it.
"""

from __future__ import annotations

import json
from typing import Any

#: Nesting levels a body may use: the envelope takes three (``{"events": [{…}]}``), the
#: properties object one more, which leaves properties a dozen levels of their own.
MAX_DEPTH = 16


class BodyError(ValueError):
    """A body that is not acceptable JSON; the message says why (a 400)."""


def depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0), without recursing."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The decoded body; BodyError if it is not JSON or nests deeper than ``max_depth``."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise BodyError(f"The body nests deeper than {max_depth} levels.") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BodyError(f"The body must be JSON: {exc}") from None
    if depth(payload) > max_depth:
        raise BodyError(f"The body nests deeper than {max_depth} levels.")
    return payload
