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
from typing import Any

from benchmarks import profiling
from benchmarks.proposals import ENV
from benchmarks.report import Report, Row, ratio

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 0.9
PROPOSALS = ("request_store_batching",)
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
    rounds = 1 if quick else 2
    # Three contenders, two servers started side by side (an idle one costs nothing):
    # the project as it is (plain page and experiments page), and the experiments page on a
    # server running the scratch proposals (benchmarks/proposals.py).
    servers: dict[str, tuple[subprocess.Popen[str], str]] = {}
    targets = {
        "plain": ("base", "/bench/plain/"),
        "experiments": ("base", "/bench/experiments/"),
        "proposal": ("proposal", "/bench/experiments/"),
        "nostore": ("nostore", "/bench/experiments/"),
    }
    runs: dict[str, list[WrkResult]] = {page: [] for page in targets}
    variants = (
        ("base", {ENV: ""}),
        ("proposal", {ENV: ",".join(PROPOSALS)}),
        ("nostore", {ENV: "", "BENCH_STACK_STORE": "none"}),
    )
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
        for server_name, path in targets.values():
            _wait_ready(servers[server_name][1] + path)
        for _ in range(rounds):
            for page, (server_name, path) in targets.items():
                out = subprocess.run(
                    [
                        "wrk",
                        "-t1",
                        f"-c{2 * cores}",
                        f"-d{duration}s",
                        "--latency",
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

    plain, exp, prop = summary("plain"), summary("experiments"), summary("proposal")
    nostore = summary("nostore")
    report.add(
        Row(
            "4",
            OPERATION,
            f"{exp.rps:.0f} req/s, p50 {exp.p50_ms:.2f} ms, p99 {exp.p99_ms:.2f} ms",
            f"without: {plain.rps:.0f} req/s, p50 {plain.p50_ms:.2f} ms, p99 {plain.p99_ms:.2f} ms",
            ratio(exp.rps, plain.rps),
            budget,
            exp.rps >= BUDGET * plain.rps,
        )
    )
    report.add(
        Row(
            "4*",
            "  scratch proposal: no read for a just-minted visitor + one pipelined write",
            f"{prop.rps:.0f} req/s, p50 {prop.p50_ms:.2f} ms, p99 {prop.p99_ms:.2f} ms",
            f"without: {plain.rps:.0f} req/s",
            ratio(prop.rps, plain.rps),
            budget,
            prop.rps >= BUDGET * plain.rps,
        )
    )
    report.add(
        Row(
            "4*",
            "  same page, STORE 'none' (engine cost without Redis; diagnosis only)",
            f"{nostore.rps:.0f} req/s, p50 {nostore.p50_ms:.2f} ms, p99 {nostore.p99_ms:.2f} ms",
            f"without: {plain.rps:.0f} req/s",
            ratio(nostore.rps, plain.rps),
            budget,
            nostore.rps >= BUDGET * plain.rps,
        )
    )
    report.notes.append(
        f"Section 4: gunicorn {cores} sync workers, wrk -t1 -c{2 * cores} -d{duration}s, "
        f"{rounds} alternating run(s) per page (median). Every wrk request is a new visitor "
        "(no cookie): each of the 5 experiments is a Redis store miss, one round trip each "
        "(the store's get-or-set script). Both pages go through the same middleware stack, "
        "ExperimentMiddleware included."
    )
    if exp.rps < BUDGET * plain.rps:
        report.findings.append(_finding(plain, exp, prop, nostore, cores, rtt_us))
    return {"plain": plain, "experiments": exp, "proposal": prop, "nostore": nostore}


def _store_entry(cls: Any) -> Any:
    return getattr(cls, "_store_get_or_set", None) or cls._store_get


def _worker_us(cores: int, result: WrkResult) -> float:
    """Worker time per request: sync workers each serve one request at a time."""
    return cores / result.rps * 1e6 if result.rps else float("inf")


def _finding(
    plain: WrkResult,
    exp: WrkResult,
    prop: WrkResult,
    nostore: WrkResult,
    cores: int,
    rtt_us: float | None,
) -> str:
    from django_experiments.engine.experiment import Experiment
    from django_experiments.engine.stores import RedisHashStore

    plain_us = _worker_us(cores, plain)
    allowance_us = (1 / BUDGET - 1) * plain_us
    engine_us = _worker_us(cores, nostore) - plain_us  # resolution + cookie, no Redis
    store_us = _worker_us(cores, exp) - _worker_us(cores, nostore)  # what Redis adds
    per_trip_us = store_us / EXPERIMENTS
    prop_us = _worker_us(cores, prop) - plain_us
    rtt = (
        f"section 2 measures one raw redis-py HGET at {rtt_us:.0f} µs"
        if rtt_us is not None
        else "section 2 (not run here) measures one raw redis-py HGET"
    )
    if engine_us > allowance_us:
        engine_verdict = (
            "already over the allowance before any Redis round trip: the engine's CPU per "
            "resolution (section 1) times five, plus the middleware's signed anonymous cookie"
        )
    else:
        engine_verdict = "within the allowance: the engine's CPU is not what fails the budget"
    if prop_us > allowance_us:
        prop_verdict = (
            f"still over the ~{allowance_us:.0f} µs allowance (one pipelined loopback round "
            "trip per request plus the engine's CPU)"
        )
    else:
        prop_verdict = "within the allowance"
    share_us = allowance_us / EXPERIMENTS
    if per_trip_us >= allowance_us:
        trip_verdict = (
            f"One round trip alone (~{per_trip_us:.0f} µs under load) exceeds the whole "
            f"~{allowance_us:.0f} µs allowance, so {EXPERIMENTS} of them cannot fit."
        )
    elif per_trip_us > share_us:
        trip_verdict = (
            f"Each round trip (~{per_trip_us:.0f} µs under load) exceeds its ~{share_us:.0f} µs "
            f"share of the allowance, so {EXPERIMENTS} of them cannot fit."
        )
    else:
        trip_verdict = (
            f"Each round trip (~{per_trip_us:.0f} µs under load) fits its ~{share_us:.0f} µs "
            "share of the allowance: the store is not what fails the budget."
        )
    return "\n".join(
        [
            f"### 4. Full stack: {exp.rps:.0f} vs {plain.rps:.0f} req/s "
            f"({ratio(exp.rps, plain.rps)}, budget ≥ {BUDGET}×)",
            "",
            f"- The plain page costs ~{plain_us:.0f} µs of worker time per request "
            f"({cores} sync workers / {plain.rps:.0f} req/s), so the {BUDGET}× budget allows "
            f"~{allowance_us:.0f} µs for {EXPERIMENTS} experiments.",
            f"- Without any store (STORE 'none') the page serves {nostore.rps:.0f} req/s "
            f"({ratio(nostore.rps, plain.rps)}): ~{engine_us:.0f} µs per request over the "
            f"plain page, {engine_verdict}.",
            f"- The Redis store adds ~{store_us:.0f} µs per request on top of that, "
            f"~{per_trip_us:.0f} µs per experiment: a new visitor (every wrk request) costs "
            "one sequential loopback round trip per experiment "
            f"(`{profiling.where(RedisHashStore.get_or_set)}` `get_or_set`, called by "
            f"`{profiling.where(_store_entry(Experiment))}`), {EXPERIMENTS} per page; "
            f"{rtt}. {trip_verdict}",
            "- Proposal (scratch patch `request_store_batching`, measured above as 4*): skip "
            "the read when the actor is the anonymous id minted in this request (a fresh "
            "uuid4 cannot have a stored assignment), and queue the HSETs on the scope, written "
            "in one pipeline by `middleware.flush` at response end (deterministic rollouts "
            f"only): {exp.rps:.0f} → {prop.rps:.0f} req/s "
            f"(p50 {exp.p50_ms:.2f} → {prop.p50_ms:.2f} ms), ~{prop_us:.0f} µs per request "
            f"over the plain page, {prop_verdict}.",
            f"- Hence ≥ {BUDGET}× for new visitors on a Redis store is out of reach on this "
            "machine while any store round trip stays on the request path: it would take the "
            "write leaving the request (write-behind from a background thread, as tracking "
            "already does)"
            + (
                f" and the engine + cookie cost (~{engine_us:.0f} µs) shrinking to fit the "
                f"~{allowance_us:.0f} µs allowance."
                if engine_us > allowance_us
                else "."
            ),
        ]
    )
