"""``uvicorn tests.asgi.app:application``: the test project under ASGI.

Celery runs eagerly in-process (the host project's own app is not part of these tests), and
the hop counter is installed for the process's lifetime.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.asgi.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()  # sets Django up before the imports below

import json  # noqa: E402
from typing import Any  # noqa: E402

from tests.asgi.views import HOPS  # noqa: E402
from tests.celery_apps import make_app  # noqa: E402


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Django, except ``/hops/``: the hop counter, answered outside Django so that reading it
    adds no hop of its own (``?reset=1`` clears it after reading)."""
    if scope["type"] != "http" or scope["path"] != "/hops/":
        await django_application(scope, receive, send)
        return
    body = json.dumps({"hops": HOPS.snapshot()}).encode()
    if b"reset=1" in scope.get("query_string", b""):
        HOPS.reset()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_celery = make_app("memory://", eager=True)
_celery.set_current()
_celery.set_default()
HOPS.install()
