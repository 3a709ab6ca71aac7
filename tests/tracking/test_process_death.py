"""At least once, for real: a process that dies right after tracking loses no event.

Events are handed to the broker (or the outbox) on the thread that tracked them, before the
task returns or the response is sent, so nothing waits in memory for a thread or an exit
hook. Two processes that never run exit hooks prove it: a prefork worker child that exits
after its task (Celery ends children with ``os._exit``) and a gunicorn worker SIGKILLed right
after its responses. The deliver queue has no consumer: the test reads what was published.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
VISITORS = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def published_events(broker: str, queue: str, expected: int, timeout: float = 30.0) -> list[Any]:
    """Drain ``queue`` (deliver tasks) until ``expected`` events arrived or time is up."""
    events: list[Any] = []
    deadline = time.monotonic() + timeout
    with Connection(broker) as conn:
        simple = conn.SimpleQueue(queue)
        try:
            while len(events) < expected and time.monotonic() < deadline:
                try:
                    message = simple.get(timeout=0.5)
                except simple.Empty:
                    continue
                _args, kwargs, _embed = message.decode()
                events.extend(kwargs["events"])
                message.ack()
        finally:
            simple.close()
            with conn.channel() as channel:
                channel.queue_delete(queue)
    return events


@pytest.fixture
def queues(amqp_broker: str) -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        "GLEX_BROKER": amqp_broker,
        "GLEX_DELIVER_QUEUE": f"glex-deliver-{tag}",
        "GLEX_TASK_QUEUE": f"glex-tasks-{tag}",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    env.pop("DATABASE_URL", None)  # the subprocesses need no database
    yield env


def stop(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return (process.stdout.read() if process.stdout else b"").decode(errors="replace")


def test_a_prefork_child_that_exits_after_tracking_loses_nothing(queues: dict[str, str]) -> None:
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.tracking.process_death.worker",
            "worker",
            "-P",
            "prefork",
            "-c",
            "1",
            "--max-tasks-per-child",
            "1",
            "-Q",
            queues["GLEX_TASK_QUEUE"],
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "INFO",
        ],
        cwd=ROOT,
        env=queues,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with Connection(queues["GLEX_BROKER"]) as conn:
            producer = conn.Producer()
            from celery import Celery

            client = Celery("client", broker=queues["GLEX_BROKER"], set_as_current=False)
            client.send_task(
                "tests.tracking.track_then_exit",
                args=[VISITORS],
                queue=queues["GLEX_TASK_QUEUE"],
                producer=producer,
            )
        events = published_events(
            queues["GLEX_BROKER"], queues["GLEX_DELIVER_QUEUE"], expected=2 * VISITORS
        )
    finally:
        log = stop(worker)
    print(f"prefork child: {len(events)} events published for {VISITORS} visitors")
    assert sorted(e["event"] for e in events) == ["assignment"] * VISITORS + ["clicked"] * VISITORS
    assert len({e["id"] for e in events}) == 2 * VISITORS, log
    # The child really ran the task and was replaced (max-tasks-per-child=1).
    assert "tests.tracking.track_then_exit" in log and "succeeded" in log, log


def handed_to_redis(key: str) -> list[Any]:
    """The events of the "redis" hand-off's list (and remove it)."""
    import json

    import redis

    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    list_key = "{" + key + "}"
    try:
        return [e for raw in client.lrange(list_key, 0, -1) for e in json.loads(raw)]
    finally:
        client.delete(list_key)
        client.close()


@pytest.mark.parametrize("handoff", ["broker", "redis"])
def test_a_gunicorn_worker_killed_after_its_responses_loses_nothing(
    queues: dict[str, str], handoff: str
) -> None:
    if handoff == "redis":
        require_service("Redis", "127.0.0.1", 6379)
    queues = {**queues, "GLEX_HANDOFF": handoff, "GLEX_REDIS_KEY": queues["GLEX_DELIVER_QUEUE"]}
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "1",
            "-k",
            "sync",
            "-b",
            f"127.0.0.1:{port}",
            "tests.tracking.process_death.site:application",
        ],
        cwd=ROOT,
        env=queues,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/page/"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()  # warm-up visitor
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        for _ in range(VISITORS):
            assert urllib.request.urlopen(url, timeout=5).read() == b"candidate"
        # The worker dies the moment the last response is in: no exit hook, no atexit.
        children = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert len(children) == 1
        os.kill(int(children[0]), signal.SIGKILL)
        if handoff == "redis":
            events = handed_to_redis(queues["GLEX_REDIS_KEY"])
        else:
            events = published_events(
                queues["GLEX_BROKER"], queues["GLEX_DELIVER_QUEUE"], expected=2 * (VISITORS + 1)
            )
    finally:
        stop(server)
    print(f"gunicorn worker SIGKILLed ({handoff}): {len(events)} events for {VISITORS + 1} pages")
    assert sorted(e["event"] for e in events) == (
        ["assignment"] * (VISITORS + 1) + ["clicked"] * (VISITORS + 1)
    )
