"""Section 4: example_project under gunicorn with wrk on 127.0.0.1, 5 experiments vs none.

gunicorn runs sync workers = cores; wrk runs bounded in time (``-d``); runs alternate
plain / experiments so a disturbance of the shared machine hits both; the figure per page is
the median over its runs. gunicorn is stopped (SIGTERM to its own pid) in a ``finally``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks import profiling
from benchmarks.report import Report, Row, ratio

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 0.9
EXPERIMENTS = 5
OPERATION = "full stack: page resolving 5 experiments vs same page without (req/s)"


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if match is None:
        raise ValueError(f"unparseable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if rps is None or p50 is None or p99 is None:
        raise ValueError(f"unparseable wrk output:\n{output}")
    if re.search(r"Non-2xx or 3xx responses", output):
        raise ValueError(f"wrk saw errors:\n{output}")
    return WrkResult(float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def run(report: Report, quick: bool, rtt_us: float | None = None) -> dict[str, WrkResult] | None:
    """``rtt_us``: one raw redis-py HGET round trip (section 2), for the finding."""
    budget = f"≥ {BUDGET}× without"
    if shutil.which("wrk") is None:
        report.not_run("4", OPERATION, budget, "wrk not installed (apt-get install wrk)")
        return None
    workdir = Path(tempfile.mkdtemp(prefix="glex-bench-stack-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.stack.settings",
        "BENCH_STACK_DB": str(workdir / "stack.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CELERY_BROKER_URL", None)  # example_project then keeps Celery eager/in-memory
    prepared = subprocess.run(
        [sys.executable, "-m", "benchmarks.stack.prepare"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        probe = json.loads(prepared.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        probe = {"ok": False, "reason": f"prepare failed: {prepared.stderr.strip()[-300:]}"}
    if not probe["ok"]:
        report.not_run("4", OPERATION, budget, str(probe["reason"]))
        return None

    cores = os.cpu_count() or 1
    duration = 3 if quick else 10
    rounds = 1 if quick else 3
    # Two servers side by side (an idle one costs nothing): the project as configured (Redis
    # store), and the same project with STORE "none" for the diagnosis row.
    servers: dict[str, tuple[subprocess.Popen[str], str]] = {}
    returning = ("-H", f"Cookie: {probe['cookie']}")
    targets: dict[str, tuple[str, str, tuple[str, ...]]] = {
        "plain": ("base", "/bench/plain/", ()),
        "experiments": ("base", "/bench/experiments/", ()),
        "floor": ("base", "/bench/floor/", ()),
        "returning": ("base", "/bench/experiments/", returning),
        "nostore": ("nostore", "/bench/experiments/", ()),
    }
    runs: dict[str, list[WrkResult]] = {page: [] for page in targets}
    variants = (("base", {}), ("nostore", {"BENCH_STACK_STORE": "none"}))
    try:
        for name, extra in variants:
            port = _free_port()
            server = subprocess.Popen(
                [
                    _venv_bin("gunicorn"),
                    "benchmarks.stack.wsgi:application",
                    "--workers",
                    str(cores),
                    "--worker-class",
                    "sync",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env={**env, **extra},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            servers[name] = (server, f"http://127.0.0.1:{port}")
        for server_name, path, _ in targets.values():
            _wait_ready(servers[server_name][1] + path)
        for _ in range(rounds):
            for page, (server_name, path, headers) in targets.items():
                out = subprocess.run(
                    [
                        "wrk",
                        "-t1",
                        f"-c{2 * cores}",
                        f"-d{duration}s",
                        "--latency",
                        *headers,
                        servers[server_name][1] + path,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=duration + 30,
                    check=True,
                )
                runs[page].append(parse_wrk(out.stdout))
    finally:
        for server, _ in servers.values():
            server.send_signal(signal.SIGTERM)
        for server, _ in servers.values():
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    def summary(page: str) -> WrkResult:
        items = runs[page]
        return WrkResult(
            statistics.median(r.rps for r in items),
            statistics.median(r.p50_ms for r in items),
            statistics.median(r.p99_ms for r in items),
        )

    results = {page: summary(page) for page in targets}
    plain, exp = results["plain"], results["experiments"]

    def figures(result: WrkResult) -> str:
        return f"{result.rps:.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"

    report.add(
        Row(
            "4",
            OPERATION,
            figures(exp),
            f"without: {figures(plain)}",
            ratio(exp.rps, plain.rps),
            budget,
            exp.rps >= BUDGET * plain.rps,
        )
    )
    info = (
        ("floor", "  floor: the same work hand-written (user, uuid4, signed cookie, 5 HMACs)"),
        ("returning", "  returning visitor (cookie sent): 5 stored assignments, 1 prefetch trip"),
        ("nostore", "  same page, STORE 'none' (engine cost without Redis; diagnosis only)"),
    )
    for page, label in info:
        report.add(
            Row(
                "4*",
                label,
                figures(results[page]),
                f"without: {plain.rps:.0f} req/s",
                ratio(results[page].rps, plain.rps),
                "(info)",
                None,
            )
        )
    report.notes.append(
        f"Section 4: gunicorn {cores} sync workers, wrk -t1 -c{2 * cores} -d{duration}s, "
        f"{rounds} alternating run(s) per page (median). Every wrk request is a new visitor "
        "(no cookie) unless the row says otherwise: the middleware mints and signs an anonymous "
        "id, nothing can be stored for it yet, so its 5 assignments are written after the "
        "response by the write-behind thread (engine/writebehind.py). Every page goes through "
        "the same middleware stack, ExperimentMiddleware included. The floor page "
        "(benchmarks/stack/views.py `floor`) does by hand only what any implementation must do "
        "for a new visitor and 5 experiments; its ratio bounds what the budget can measure."
    )
    if exp.rps < BUDGET * plain.rps:
        report.findings.append(_finding(results, cores, rtt_us))
    return results


def _worker_us(cores: int, result: WrkResult) -> float:
    """Worker time per request: sync workers each serve one request at a time."""
    return cores / result.rps * 1e6 if result.rps else float("inf")


def _finding(results: dict[str, WrkResult], cores: int, rtt_us: float | None) -> str:
    from django_experiments.engine.experiment import Experiment

    plain, exp, floor = results["plain"], results["experiments"], results["floor"]
    nostore, returning = results["nostore"], results["returning"]
    plain_us = _worker_us(cores, plain)
    allowance_us = (1 / BUDGET - 1) * plain_us
    exp_us = _worker_us(cores, exp) - plain_us
    floor_us = _worker_us(cores, floor) - plain_us
    nostore_us = _worker_us(cores, nostore) - plain_us
    returning_us = _worker_us(cores, returning) - plain_us
    rtt = f" (section 2: one raw redis-py HGET takes {rtt_us:.0f} µs)" if rtt_us else ""
    floor_verdict = (
        "already over the allowance: no implementation that mints a signed anonymous id and "
        "hashes the visitor once per experiment can meet the budget on this page"
        if floor_us > allowance_us
        else "within the allowance: the gap to the budget is this project's own overhead"
    )
    return "\n".join(
        [
            f"### 4. Full stack: {exp.rps:.0f} vs {plain.rps:.0f} req/s "
            f"({ratio(exp.rps, plain.rps)}, budget ≥ {BUDGET}×)",
            "",
            f"- The plain page costs ~{plain_us:.0f} µs of worker time per request "
            f"({cores} sync workers / {plain.rps:.0f} req/s), so the {BUDGET}× budget allows "
            f"~{allowance_us:.0f} µs for {EXPERIMENTS} experiments.",
            f"- The experiments page adds ~{exp_us:.0f} µs per request. The floor page, the same "
            f"work hand-written (load the user, uuid4, a signed cookie, {EXPERIMENTS} "
            f"HMAC-SHA256 slot lookups, `Vary: Cookie`), adds ~{floor_us:.0f} µs "
            f"({ratio(floor.rps, plain.rps)}): {floor_verdict}.",
            f"- With no store at all (STORE 'none') the experiments page adds ~{nostore_us:.0f} µs "
            f"({ratio(nostore.rps, plain.rps)}): the engine and the cookie, ~"
            f"{max(0.0, nostore_us - floor_us):.0f} µs over the floor. The Redis store adds "
            f"~{max(0.0, exp_us - nostore_us):.0f} µs more: not a round trip on the request path "
            f"(`{profiling.where(Experiment._store_get_or_set)}` defers the writes) but the "
            f"work of writing {EXPERIMENTS} new assignments per visitor (the write-behind "
            "thread's redis-py pipeline, one for many requests, and the Redis server), which "
            f"shares these {cores} cores with the workers and wrk.",
            f"- A returning visitor (cookie sent) costs ~{returning_us:.0f} µs per request "
            f"({ratio(returning.rps, plain.rps)}): its {EXPERIMENTS} stored assignments are read "
            f"in one pipelined round trip{rtt}, learned from the route's earlier requests "
            "(engine/prefetch.py), on the request path.",
        ]
    )
