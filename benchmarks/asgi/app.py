"""``uvicorn benchmarks.asgi.app:application``, with the hop counter at ``/hops/``."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.asgi.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()  # sets Django up before the import below

from django_experiments.testing.hops import Hops, with_hops_endpoint  # noqa: E402

HOPS = Hops()
HOPS.install()
application = with_hops_endpoint(django_application, HOPS)
