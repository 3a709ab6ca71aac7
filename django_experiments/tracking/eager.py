"""Whether the current Celery app runs tasks inline (``task_always_eager``), read once per app.

Reading Celery's layered configuration (a Django-settings namespace behind two ChainMaps) costs
about 15 µs, more than the rest of a request's hand-over, and the web side asks on every
request. An app's eagerness is set when it is configured, not flipped per request; a new app
(``set_as_current``, a test's own app) is read afresh.
"""

from __future__ import annotations

from typing import Any

_seen: dict[int, tuple[Any, bool]] = {}


def is_eager() -> bool:
    from celery._state import get_current_app

    app = get_current_app()
    cached = _seen.get(id(app))
    if cached is None or cached[0] is not app:
        if len(_seen) > 16:
            _seen.clear()  # apps made and dropped (tests): keep only recent ones alive
        cached = _seen[id(app)] = (app, bool(app.conf.task_always_eager))
    return cached[1]
