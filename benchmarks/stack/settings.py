"""example_project's settings with a benchmark database, Redis store and bench URLs.

Nothing in example_project is edited: this module imports its settings and overrides what a
load test needs (DEBUG off, its own SQLite file, the Redis store on DB 13, bench URLs).

``BENCH_STACK_CONTENDER`` picks the one experiments library whose middleware the server runs,
so every contender pays for its own integration and for no one else's:

- ``glex`` (default): this project's ``ExperimentMiddleware`` (``BENCH_STACK_STORE`` picks
  the store: ``redis`` or ``none``);
- ``waffle``: django-waffle's ``WaffleMiddleware`` (writes its ``dwf_*`` cookies);
- ``growthbook``: a GrowthBook instance per request, as GrowthBook documents for Django
  (benchmarks/stack/growthbook_middleware.py);
- ``bare``: none of them (the page without experiments and the hand-written floor).
"""

from __future__ import annotations

import os

from example_project.settings import *  # noqa: F403
from example_project.settings import INSTALLED_APPS, MIDDLEWARE

DEBUG = False
ROOT_URLCONF = "benchmarks.stack.urls"
WSGI_APPLICATION = "benchmarks.stack.wsgi.application"

CONTENDER = os.environ.get("BENCH_STACK_CONTENDER", "glex")
_OURS = "django_experiments.middleware.ExperimentMiddleware"
_THEIRS = {
    "glex": [_OURS],
    "waffle": ["waffle.middleware.WaffleMiddleware"],
    "growthbook": ["benchmarks.stack.growthbook_middleware.GrowthBookMiddleware"],
    "bare": [],
}
if CONTENDER not in _THEIRS:
    raise ValueError(f"BENCH_STACK_CONTENDER={CONTENDER!r}: expected one of {sorted(_THEIRS)}")
# The experiments middleware's slot (after AuthenticationMiddleware) goes to the contender's.
_slot = MIDDLEWARE.index(_OURS)
MIDDLEWARE = [*MIDDLEWARE[:_slot], *_THEIRS[CONTENDER], *MIDDLEWARE[_slot + 1 :]]

INSTALLED_APPS = [*INSTALLED_APPS, "waffle", "benchmarks.stack"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_STACK_DB", "/tmp/glex-bench-stack.sqlite3"),
        # Persistent connections, as production deployments configure them: the realistic
        # page's three queries then measure queries, not SQLite's connect.
        "CONN_MAX_AGE": 600,  # type: ignore[dict-item]  # example_project's are all str
    }
}

CACHES = {
    # Definitions, waffle's flags and sessions stay per process; assignments go to Redis, as
    # in production.
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "store": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
    },
}

DJANGO_EXPERIMENTS = {
    "STORE": os.environ.get("BENCH_STACK_STORE", "redis"),
    "STORE_ALIAS": "store",
    "STORE_KEY_PREFIX": "glexstack",
    "DEFINITIONS_CACHE_ALIAS": "default",
    "COOKIE_SECURE": False,
    "TRACKING_DEDUPE_SECONDS": 0,
    # With a real broker (CELERY_BROKER_URL, set by the harness), a queue of the run's own that
    # no worker consumes: the harness deletes it afterwards.
    "TRACKING_QUEUE": os.environ.get("BENCH_STACK_TRACKING_QUEUE", "glex-stack"),
    # "redis": the events go to a Redis list (no drain runs during the benchmark; the harness
    # deletes the list after each measurement, as it would the broker's queue).
    "TRACKING_HANDOFF": os.environ.get("BENCH_STACK_HANDOFF", "auto"),
    "TRACKING_REDIS_ALIAS": "store",
    "TRACKING_REDIS_KEY": "glexstack-events",
}

# Plain HTTP on loopback, like COOKIE_SECURE above; waffle's own defaults otherwise.
WAFFLE_SECURE = False
WAFFLE_CREATE_MISSING_FLAGS = False
WAFFLE_LOG_MISSING_FLAGS = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"django_experiments": {"level": "ERROR"}},
}
