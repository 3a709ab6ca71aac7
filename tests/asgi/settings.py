"""The test project served by uvicorn in a subprocess (tests/asgi/test_uvicorn.py).

The test suite's settings with what a separate server process needs: a SQLite file both
processes can open (``GLEX_ASGI_DB``), this package's URLs, a sink that stores events and
checks that the rows they refer to were committed when they were shipped.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403
from tests.settings import DJANGO_EXPERIMENTS as BASE

ROOT_URLCONF = "tests.asgi.urls"
DEBUG = False

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("GLEX_ASGI_DB", ":memory:"),
        # WAL: the test reads the file while the server writes it.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
        },
    }
}

DJANGO_EXPERIMENTS = {
    **BASE,
    "STORE": os.environ.get("GLEX_ASGI_STORE", "cache"),
    "STORE_ALIAS": "redis" if os.environ.get("GLEX_ASGI_STORE") == "redis" else "default",
    "STORE_KEY_PREFIX": os.environ.get("GLEX_ASGI_PREFIX", "glexasgi"),
    "TRACKING_SINKS": ["tests.asgi.sinks.CommitCheckingSink"],
    # Every request's assignment event is kept, so the test can count them one by one.
    "TRACKING_DEDUPE_SECONDS": 0,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_experiments": {"handlers": ["console"], "level": "WARNING"}},
}
