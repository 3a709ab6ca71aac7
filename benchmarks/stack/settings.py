"""example_project's settings with a benchmark database, Redis store and bench URLs.

Nothing in example_project is edited: this module imports its settings and overrides what a
load test needs (DEBUG off, its own SQLite file, the Redis store on DB 13, bench URLs).
"""

from __future__ import annotations

import os

from example_project.settings import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "benchmarks.stack.urls"
WSGI_APPLICATION = "benchmarks.stack.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_STACK_DB", "/tmp/glex-bench-stack.sqlite3"),
    }
}

CACHES = {
    # Definitions and sessions stay per process; assignments go to Redis, as in production.
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
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"django_experiments": {"level": "ERROR"}},
}
