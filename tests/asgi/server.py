"""Start the test project under uvicorn on 127.0.0.1 (a free port), in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Server:
    url: str
    db: Path
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited early:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not answer {url}:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)


@contextmanager
def serve(workdir: Path, **env: str) -> Iterator[Server]:
    """Migrate and seed a SQLite file, run uvicorn on it, stop it (SIGTERM, its pid) after.

    With ``GLEX_ASGI_BROKER`` (and ``GLEX_ASGI_QUEUE``) in ``env``, a Celery worker
    subprocess delivers the events the server publishes to that broker.
    """
    db = workdir / "asgi.sqlite3"
    log = workdir / "uvicorn.log"
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.asgi.settings",
        "GLEX_ASGI_DB": str(db),
        "PYTHONPATH": str(ROOT),
        **env,
    }
    environ.pop("CELERY_BROKER_URL", None)
    subprocess.run(
        [sys.executable, "-m", "tests.asgi.seed"], cwd=ROOT, env=environ, check=True, timeout=120
    )
    worker = None
    if environ.get("GLEX_ASGI_BROKER"):
        # The worker that delivers what the server publishes, on the server's own queue.
        worker_log = workdir / "worker.log"
        with worker_log.open("wb") as out:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "tests.asgi.celery_app",
                    "worker",
                    "--pool",
                    "solo",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel",
                    "warning",
                ],
                cwd=ROOT,
                env=environ,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.asgi.app:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url + "/sync/", process, log)
        yield Server(url, db, log)
    finally:
        for child in (process, worker):
            if child is None:
                continue
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
