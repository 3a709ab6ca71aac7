"""Plugin tests run pytest in a subprocess through ``pytester``.

``pytest_plugins = ["pytester"]`` is only allowed in the rootdir's conftest (pytest refuses it
in a nested one), so the fixture is built here the way the pytester plugin builds it, with the
plugin's one command-line option (``--runpytest``) answered: these tests only use
``runpytest_subprocess``, which keeps the inner Django setup out of this process.
"""

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
def pytester(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Pytester:
    if "--runpytest" not in request.config._parser._opt2dest:
        monkeypatch.setattr(request.config.option, "--runpytest", "subprocess", raising=False)
    return Pytester(request, tmp_path_factory, monkeypatch, _ispytest=True)


@pytest.fixture
def run_inner(pytester: Pytester, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run test sources in a fresh pytest process with the plugin, against tests.settings."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.settings")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    # The inner run never touches a database; keep it off a shared PostgreSQL test database.
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def run(**files: str) -> Any:
        pytester.makepyfile(**files)
        args = ["-p", "no:cacheprovider", "-p", "no:randomly"]
        if not _plugin_is_installed():
            args += ["-p", PLUGIN]
        return pytester.runpytest_subprocess(*args)

    return run
