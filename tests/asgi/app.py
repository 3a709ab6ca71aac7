"""``uvicorn tests.asgi.app:application``: the test project under ASGI.

Celery is tests/asgi/celery_app.py (eager, or a real broker with a worker); the hop counter
is installed for the process's lifetime and readable at ``/hops/``.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.asgi.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()  # sets Django up before the imports below

from django_experiments.testing.hops import Hops, with_hops_endpoint  # noqa: E402
from tests.asgi import celery_app  # noqa: E402,F401 - the current and default Celery app

HOPS = Hops()
HOPS.install()
application = with_hops_endpoint(django_application, HOPS)
