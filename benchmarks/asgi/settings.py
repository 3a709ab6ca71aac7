"""The full-stack benchmark's settings (benchmarks/stack) with this package's URLs.

Same project, middleware, Redis store and SQLite file as section 4, so the only variable
between sections 4 and 8 is the server (gunicorn WSGI vs uvicorn ASGI).
"""

from __future__ import annotations

from benchmarks.stack.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.asgi.urls"
ASGI_APPLICATION = "benchmarks.asgi.app.application"
