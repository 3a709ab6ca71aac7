"""scipy loads only where results are computed: never in the request path or the worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import django
django.setup()
from django.contrib import admin
admin.autodiscover()
import django_experiments.api.views
import django_experiments.middleware
import django_experiments.tracking.sinks
import django_experiments.urls
print(sorted(m for m in ("scipy", "django_experiments.stats") if m in sys.modules))
"""


def test_request_path_does_not_import_scipy() -> None:
    # A fresh interpreter: this test process has long imported scipy for other tests.
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
