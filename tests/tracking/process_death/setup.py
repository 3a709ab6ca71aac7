"""Django and Celery for the subprocesses: tests.settings, a broker and a deliver queue that no
worker consumes (the test reads what was published), and a stubbed ``cta`` experiment so that
no database tables are needed."""

from __future__ import annotations

import os

import django
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.conf import settings  # noqa: E402

from django_experiments.testing import stub_experiments  # noqa: E402

settings.DJANGO_EXPERIMENTS = {
    **settings.DJANGO_EXPERIMENTS,
    "TRACKING_QUEUE": os.environ["GLEX_DELIVER_QUEUE"],
    "TRACKING_DEDUPE_SECONDS": 0,
    "STORE": "none",
    # GLEX_HANDOFF=redis: the events go to a Redis list (tests.settings' "redis" alias).
    "TRACKING_HANDOFF": os.environ.get("GLEX_HANDOFF", "broker"),
    "TRACKING_REDIS_ALIAS": "redis",
    "TRACKING_REDIS_KEY": os.environ.get("GLEX_REDIS_KEY", "glex:events"),
}

app = Celery("process_death")
app.conf.update(
    broker_url=os.environ["GLEX_BROKER"],
    task_default_queue=os.environ.get("GLEX_TASK_QUEUE", "glex-process-death"),
    task_ignore_result=True,
    result_backend=None,
    broker_connection_timeout=2,
    broker_heartbeat=0,
    worker_hijack_root_logger=False,
)
app.set_current()
app.set_default()

stub_experiments(cta="candidate").start()
