"""The Celery app of the uvicorn test server and of its worker (tests/asgi).

``GLEX_ASGI_BROKER`` unset: eager, in memory (events are delivered inside the request's
hand-over). Set (a Redis URL): a real broker, on the queue ``GLEX_ASGI_QUEUE`` that the test's
worker subprocess consumes (``celery -A tests.asgi.celery_app worker``).
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.asgi.settings")

import django  # noqa: E402

django.setup()

from celery import Celery  # noqa: E402
from kombu import Queue  # noqa: E402

BROKER = os.environ.get("GLEX_ASGI_BROKER", "")
QUEUE = os.environ.get("GLEX_ASGI_QUEUE", "glex_asgi_tests")

app = Celery("tests_asgi", include=["django_experiments.tracking.tasks"])
app.conf.update(
    broker_url=BROKER or "memory://",
    task_always_eager=not BROKER,
    task_ignore_result=True,
    result_backend=None,
    broker_connection_timeout=2,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_queues=[Queue(QUEUE)],
    task_default_queue=QUEUE,
    broker_transport_options={"visibility_timeout": 60},
)
app.set_current()
app.set_default()
