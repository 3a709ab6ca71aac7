"""Plugin tests run pytest in a subprocess through ``pytester`` (enabled in tests/conftest.py):
``runpytest_subprocess`` keeps the inner Django setup out of this process."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import pytest
from _pytest.pytester import Pytester

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "django_experiments.testing.plugin"


def _plugin_is_installed() -> bool:
    return any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))


@pytest.fixture
def run_inner(pytester: Pytester, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run test sources in a fresh pytest process with the plugin, against tests.settings."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.settings")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    # The inner run never touches a database; keep it off a shared PostgreSQL test database.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # Events leave when tracked: the inner run's default Celery app must not publish them to
    # a real broker on this machine (Celery reads this variable for its default app).
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")

    def run(**files: str) -> Any:
        pytester.makepyfile(**files)
        args = ["-p", "no:cacheprovider", "-p", "no:randomly"]
        if not _plugin_is_installed():
            args += ["-p", PLUGIN]
        return pytester.runpytest_subprocess(*args)

    return run
