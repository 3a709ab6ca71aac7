"""The benchmark's Celery app (the worker of section 5 runs ``-A benchmarks.celery_app``)."""

from __future__ import annotations

import os

import django
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
django.setup()

app = Celery("benchmarks")
app.config_from_object("django.conf:settings", namespace="CELERY")

# The shared tasks of django_experiments.tracking.tasks bind to this app.
app.autodiscover_tasks(["django_experiments.tracking"])
