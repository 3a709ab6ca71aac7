"""Fixtures of the chaos suite: every test starts what it breaks.

* ``redis_factory``: private ``redis-server`` processes on free ports, without persistence.
* ``worker_factory``: real ``celery worker`` subprocesses (solo pool) on the test's broker
  and queue, writing into the test's database.
* ``collector``: a real HTTP collector for ``HttpSink`` that can answer 500 or hang.
* ``chaos_db``: a database the test process and the worker processes share. On PostgreSQL it
  is the test database itself (committed data, ``transactional_db``); on SQLite, whose test
  database lives in this process's memory, the test's default connection is switched to a
  migrated file for the duration of the test. Events are handed over on the request thread
  (after commit), so every write of the test process goes through that connection.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from tests.celery_apps import use_app
from tests.chaos.celery_config import build_app
from tests.chaos.collector import Collector
from tests.chaos.redis_server import RedisServer
from tests.chaos.worker import ROOT, WorkerProcess

DB_SINK = "django_experiments.tracking.sinks.DatabaseSink"
HTTP_SINK = "django_experiments.tracking.sinks.HttpSink"

#: DJANGO_EXPERIMENTS keys every chaos test shares, in both processes.
BASE_EXPERIMENTS: dict[str, Any] = {
    "COOKIE_SECURE": False,
    "TRACKING_DEDUPE_SECONDS": 0,
    "TRACKING_HTTP_TIMEOUT": 30.0,
}


@pytest.fixture(scope="session")
def chaos_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file (WAL, so the worker writes while the test reads), made once."""
    path = tmp_path_factory.mktemp("chaos-db") / "template.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.chaos.worker_settings",
        "CHAOS_DATABASE": json.dumps(_sqlite_settings(path)),
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    return path


def _sqlite_settings(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {"timeout": 30},
    }


@pytest.fixture
def chaos_db(
    transactional_db: None, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """``DATABASES["default"]`` for the worker; the test process uses the same database."""
    from django.db import connections
    from django.db.utils import load_backend

    current = connections["default"]
    if current.vendor != "sqlite":
        keys = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")
        yield {key: current.settings_dict[key] for key in keys}
        return
    template = request.getfixturevalue("chaos_sqlite_template")
    path = tmp_path / "chaos.sqlite3"
    shutil.copyfile(template, path)
    worker_settings = _sqlite_settings(path)
    settings_dict = {**current.settings_dict, **worker_settings}
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")
    connections["default"] = wrapper
    try:
        yield worker_settings
    finally:
        wrapper.close()
        connections["default"] = current


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[[], RedisServer]]:
    servers: list[RedisServer] = []

    def make() -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}")
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.kill()


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    c.start()
    yield c
    c.stop()


@pytest.fixture
def queue_name() -> str:
    return f"glex_chaos_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def chaos_settings(settings: Any) -> Callable[..., dict[str, Any]]:
    """Set DJANGO_EXPERIMENTS for the test process; returns the dict to give the worker."""

    def apply(**values: Any) -> dict[str, Any]:
        merged = {**BASE_EXPERIMENTS, **values}
        settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, **merged}
        return merged

    return apply


@pytest.fixture
def web_app(queue_name: str) -> Iterator[Callable[..., Celery]]:
    """The test process's Celery app on ``broker`` (made current until the test ends)."""
    stack: list[Any] = []

    def make(broker: str, transport_options: dict[str, Any] | None = None) -> Celery:
        app = build_app(broker, queue_name, transport_options=transport_options)
        ctx = use_app(app)
        ctx.__enter__()
        stack.append(ctx)
        return app

    yield make
    while stack:
        stack.pop().__exit__(None, None, None)


@pytest.fixture
def worker_factory(
    chaos_db: dict[str, Any], queue_name: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def make(
        broker: str,
        experiments: dict[str, Any],
        transport_options: dict[str, Any] | None = None,
        pool: str = "solo",
    ) -> WorkerProcess:
        worker = WorkerProcess(
            pool=pool,
            broker=broker,
            queue=queue_name,
            database=chaos_db,
            experiments=experiments,
            transport_options=transport_options,
            directory=tmp_path,
        )
        workers.append(worker)
        worker.start()
        return worker

    yield make
    # The test is over and its broker state is thrown away: no need for a warm shutdown.
    for worker in workers:
        worker.kill()


@pytest.fixture
def make_running(db: None) -> Callable[..., Any]:
    """A running experiment with two variants (created on the connection the test uses)."""
    from django_experiments.models import Experiment, Treatment

    def make(name: str, **weights: int) -> Experiment:
        weights = weights or {"control": 1, "candidate": 1}
        exp = Experiment.objects.create(name=name, status="running")
        for order, (variant, weight) in enumerate(weights.items()):
            Treatment.objects.create(
                experiment=exp, name=variant, weight=weight, is_control=order == 0, order=order
            )
        return exp

    return make


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    """Print a tally line on the terminal even when pytest captures output (CI logs)."""

    def emit(line: str) -> None:
        with capsys.disabled():
            print(f"\n{line}")

    return emit


def delivered_rows(experiment: str) -> dict[int, int]:
    """``{seq: rows}`` of the "chaos" events DatabaseSink stored (one row per event id)."""
    from django_experiments.tracking.models import TrackedEvent

    counts: dict[int, int] = {}
    for props in TrackedEvent.objects.filter(experiment=experiment, event="chaos").values_list(
        "properties", flat=True
    ):
        seq = int(props["seq"])
        counts[seq] = counts.get(seq, 0) + 1
    return counts
