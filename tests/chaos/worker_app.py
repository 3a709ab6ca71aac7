"""``celery -A tests.chaos.worker_app worker``: a real worker process for the chaos suite.

Configured from the environment the test sets (broker, queue, transport options, database,
sinks). It writes its pid to ``CHAOS_READY_FILE`` once it consumes, so the test knows when
to start breaking things.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.chaos.worker_settings")
django.setup()

from celery.signals import worker_ready  # noqa: E402

from tests.chaos.celery_config import build_app  # noqa: E402

app = build_app(
    os.environ["CHAOS_BROKER_URL"],
    os.environ["CHAOS_QUEUE"],
    transport_options=json.loads(os.environ.get("CHAOS_TRANSPORT_OPTIONS", "{}")),
    worker=True,
)
# Shared tasks (django_experiments.tracking.deliver) resolve through the current app, also
# when the worker publishes a sink's retry.
app.set_current()
app.set_default()


@worker_ready.connect(weak=False)
def _announce_ready(**kwargs: Any) -> None:
    Path(os.environ["CHAOS_READY_FILE"]).write_text(str(os.getpid()))
