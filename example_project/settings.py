"""Demo settings. Embedded defaults: SQLite, locmem cache, eager Celery.

Environment switches: ``DATABASE_URL`` (postgres://...), ``REDIS_URL`` (use Redis for the cache
and the assignment store), ``CELERY_BROKER_URL`` (real broker; start a worker, see README).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"  # Django's default is America/Chicago; the demo shows times in UTC
ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
ASGI_APPLICATION = "example_project.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_experiments",
    "example_project.demo",
]

# The management API (docs/api.md) under /api/: the admin's session for the browsable API,
# tokens for scripts (`python manage.py drf_create_token admin`).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_experiments.middleware.ExperimentMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

_db_url = os.environ.get("DATABASE_URL", "")
if _db_url.startswith(("postgres://", "postgresql://")):
    _u = urlparse(_db_url)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": (_u.path or "/postgres").lstrip("/"),
            "USER": _u.username or "postgres",
            "PASSWORD": _u.password or "",
            "HOST": _u.hostname or "127.0.0.1",
            "PORT": str(_u.port or 5432),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR.parent / "demo.sqlite3")),
            # WAL without a sync per commit: the seeded traffic commits a few thousand small
            # transactions, and a local demo database may lose its last commits in a power cut.
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        }
    }

REDIS_URL = os.environ.get("REDIS_URL")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL},
    }
    _store = "redis"
else:
    # Single-process demo: a large MAX_ENTRIES keeps the locmem store from evicting
    # assignments (it holds 300 entries by default).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
    _store = "cache"

DJANGO_EXPERIMENTS: dict[str, Any] = {
    "STORE": _store,
    "ALLOW_FORCED_ASSIGNMENT": DEBUG,
    "COOKIE_SECURE": not DEBUG,
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_TASK_ALWAYS_EAGER = "CELERY_BROKER_URL" not in os.environ
# Redis broker: a killed worker's batches come back after visibility_timeout (kombu's default
# is an hour); docs/tracking.md, "Redis as the Celery broker". RabbitMQ ignores these options.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 840,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR.parent / "staticfiles"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_experiments": {"handlers": ["console"], "level": "INFO"},
    },
}

# Tracking (docs/tracking.md): log events and keep them for the admin results.
DJANGO_EXPERIMENTS.setdefault(
    "TRACKING_SINKS",
    [
        "django_experiments.tracking.sinks.LoggingSink",
        "django_experiments.tracking.sinks.DatabaseSink",
    ],
)
# A dead broker must not hold a request for long before the batch goes to the outbox.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# With a real broker, `celery -A example_project beat` drains the Redis event list (the
# "auto" hand-off with the Redis store) and the outbox every 5 s.
CELERY_BEAT_SCHEDULE = {
    "django-experiments-drain-outbox": {
        "task": "django_experiments.tracking.drain_outbox",
        "schedule": 5.0,
    },
}
