"""A Celery worker subprocess (``celery -A tests.chaos.worker_app worker``) a test can kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """One worker process; with the solo pool (default) it is also the one that runs
    ``deliver``, so ``kill()`` hits the task mid-batch. ``pool="prefork"`` runs one child."""

    def __init__(
        self,
        *,
        broker: str,
        queue: str,
        database: dict[str, Any],
        experiments: dict[str, Any],
        directory: Path,
        transport_options: dict[str, Any] | None = None,
        pool: str = "solo",
    ) -> None:
        self.pool = pool
        self.broker = broker
        self.queue = queue
        self.database = database
        self.experiments = experiments
        self.transport_options = transport_options or {}
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    def start(self, timeout: float = 60.0) -> None:
        name = uuid.uuid4().hex[:8]
        ready = self.directory / f"worker-{name}.ready"
        self.log_path = self.directory / f"worker-{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.chaos.worker_settings",
            "CHAOS_DATABASE": json.dumps(self.database),
            "CHAOS_EXPERIMENTS": json.dumps(self.experiments),
            "CHAOS_BROKER_URL": self.broker,
            "CHAOS_QUEUE": self.queue,
            "CHAOS_TRANSPORT_OPTIONS": json.dumps(self.transport_options),
            "CHAOS_READY_FILE": str(ready),
            "PYTHONPATH": str(ROOT),
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "tests.chaos.worker_app",
                    "worker",
                    f"--pool={self.pool}",
                    "--concurrency=1",
                    "--loglevel=WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-Q",
                    self.queue,
                    "-n",
                    f"chaos-{name}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited at start:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"worker not ready in {timeout}s:\n{self.log()}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def children(self) -> list[int]:
        """Pids of the pool processes (prefork), from /proc."""
        pid = self.pid
        path = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, nothing acknowledged or requeued by the worker."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-4000:]
