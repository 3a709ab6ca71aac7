"""``uvicorn tests.asgi.app:application``: the test project under ASGI.

Celery runs eagerly in-process (the host project's own app is not part of these tests), and
the hop counter is installed for the process's lifetime and readable at ``/hops/``.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.asgi.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()  # sets Django up before the imports below

from django_experiments.testing.hops import Hops, with_hops_endpoint  # noqa: E402
from tests.celery_apps import make_app  # noqa: E402

HOPS = Hops()
HOPS.install()
application = with_hops_endpoint(django_application, HOPS)

_celery = make_app("memory://", eager=True)
_celery.set_current()
_celery.set_default()
