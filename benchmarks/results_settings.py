"""Settings of section 8's child process: the benchmark settings on a PostgreSQL database."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from benchmarks.settings import *  # noqa: F403

_url = urlparse(
    os.environ.get(
        "BENCH_RESULTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/glex_bench_results"
    )
)

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": _url.username or "postgres",
        "PASSWORD": _url.password or "",
        "HOST": _url.hostname or "127.0.0.1",
        "PORT": str(_url.port or 5432),
    }
}

# Only what the results path needs: the peers' apps (waffle) are the other sections' business.
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_experiments",
]
