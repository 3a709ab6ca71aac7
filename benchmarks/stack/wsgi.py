from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.stack.settings")
application = get_wsgi_application()

# Benchmark-only: BENCH_PROPOSALS=name,... runs this server with scratch engine patches.
from benchmarks.proposals import apply_from_env  # noqa: E402

apply_from_env()
