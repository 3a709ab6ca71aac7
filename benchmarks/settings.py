"""Standalone Django settings for the in-process benchmarks (not the test suite's).

SQLite in memory for the experiment rows, locmem for definitions and waffle's cache, and a
django-redis alias on a dedicated Redis database (13, flushed by the run) for the store.
"""

from __future__ import annotations

import os

from benchmarks.redis_counting import CountingConnection

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "benchmarks.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_experiments",
    "waffle",
]

MIDDLEWARE: list[str] = []

# A file (set by run.py) so the tracking section's Celery worker shares the database; WAL lets
# the harness count rows while the worker writes.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB", ":memory:"),
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
    }
}

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "store": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {
            # Counts requests written to Redis: one per command, one per pipeline.
            "CONNECTION_POOL_KWARGS": {"connection_class": CountingConnection},
        },
    },
}

DJANGO_EXPERIMENTS: dict[str, object] = {
    "STORE": "none",
    "STORE_ALIAS": "store",
    "STORE_KEY_PREFIX": "glexbench",
    "DEFINITIONS_CACHE_ALIAS": "default",
    # Assignment events are not part of resolution; keep the dedupe cache out of the figures.
    "TRACKING_DEDUPE_SECONDS": 0,
    "TRACKING_SINKS": ["django_experiments.tracking.sinks.DatabaseSink"],
    # A queue of the benchmark's own: other workers on the shared broker never take its tasks.
    "TRACKING_QUEUE": os.environ.get("BENCH_TRACKING_QUEUE", "glex-bench"),
    "TRACKING_BATCH_SIZE": 500,
}

WAFFLE_CREATE_MISSING_FLAGS = False
WAFFLE_LOG_MISSING_FLAGS = None

CELERY_BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
CELERY_TASK_ALWAYS_EAGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_experiments": {"level": "ERROR"},
        # Sink retries are warnings: the tracking section reports them from the worker log.
        "django_experiments.tracking": {"handlers": ["console"], "level": "WARNING"},
        "celery": {"level": "WARNING"},
    },
}
