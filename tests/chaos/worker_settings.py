"""Django settings of the chaos suite's worker process (and of its template database).

The test suite's settings, with the database and the ``DJANGO_EXPERIMENTS`` keys the test
passes in the environment: the worker writes into the same database the test reads.
"""

from __future__ import annotations

import json
import os

from tests.settings import *  # noqa: F403
from tests.settings import DJANGO_EXPERIMENTS as BASE_EXPERIMENTS

DATABASES = {"default": json.loads(os.environ["CHAOS_DATABASE"])}
DJANGO_EXPERIMENTS = {**BASE_EXPERIMENTS, **json.loads(os.environ.get("CHAOS_EXPERIMENTS", "{}"))}
CELERY_TASK_ALWAYS_EAGER = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
