"""Section 9: example_project under uvicorn, an async view against a sync view, same load.

Both views render section 4's page and resolve its 5 experiments for a new visitor: the
async one with ``await request.aexperiment(name)``, the sync one with
``request.experiment(name)``. uvicorn runs ``cores`` workers on 127.0.0.1; wrk (bounded by
``-d``) alternates between the pages; each figure is the median over its runs. The plain
twins (no experiments) show how the server itself treats async and sync views. Then a few
sequential requests per page read the server's ``sync_to_async`` hop counter
(``django_experiments.testing.hops``). uvicorn is stopped (SIGTERM to its pid) in a
``finally``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.report import Report, Row, ratio
from benchmarks.wrk import WrkResult, parse_wrk

ROOT = Path(__file__).resolve().parent.parent
OPERATION = "ASGI (uvicorn): async view, 5 × await request.aexperiment vs same sync view (req/s)"
PAGES = {
    "async": "/bench/async/",
    "sync": "/bench/sync/",
    "async-one-hop": "/bench/async-one-hop/",
    "async-plain": "/bench/async-plain/",
    "sync-plain": "/bench/sync-plain/",
}
#: Functions whose hops are this project's (the rest are Django's own middleware and view).
OURS = "django_experiments."
HOP_SAMPLE = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def _wait_ready(url: str, server: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            _get(url)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _hops_per_request(base: str, path: str) -> dict[str, float]:
    """Hops by function per request over ``HOP_SAMPLE`` sequential new visitors."""
    _get(base + "/hops/?reset=1")
    for _ in range(HOP_SAMPLE):
        _get(base + path)
    counts = json.loads(_get(base + "/hops/"))["hops"]
    return {label: n / HOP_SAMPLE for label, n in counts.items()}


def _split(hops: dict[str, float]) -> tuple[float, float]:
    ours = sum(n for label, n in hops.items() if label.startswith(OURS))
    return ours, sum(hops.values()) - ours


def _start(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.asgi.app:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "benchmarks.asgi.settings"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return server, f"http://127.0.0.1:{port}"


def _stop(server: subprocess.Popen[str]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def run(report: Report, quick: bool) -> dict[str, object] | None:
    if shutil.which("wrk") is None:
        report.not_run("9", OPERATION, "(info)", "wrk not installed (apt-get install wrk)")
        return None
    workdir = Path(tempfile.mkdtemp(prefix="glex-bench-asgi-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.stack.settings",
        "BENCH_STACK_DB": str(workdir / "stack.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CELERY_BROKER_URL", None)  # example_project then keeps Celery eager/in-memory
    # Section 4's preparation (migrate, the 5 experiments, a probe through the middleware).
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
        report.not_run("9", OPERATION, "(info)", str(probe["reason"]))
        shutil.rmtree(workdir, ignore_errors=True)
        return None

    cores = os.cpu_count() or 1
    duration = 3 if quick else 10
    rounds = 1 if quick else 3
    runs: dict[str, list[WrkResult]] = {page: [] for page in PAGES}
    server, base = _start(env, workers=cores)
    try:
        for path in PAGES.values():
            _wait_ready(base + path, server)
        for _ in range(rounds):
            for page, path in PAGES.items():
                out = subprocess.run(
                    ["wrk", "-t1", f"-c{2 * cores}", f"-d{duration}s", "--latency", base + path],
                    capture_output=True,
                    text=True,
                    timeout=duration + 30,
                    check=True,
                )
                runs[page].append(parse_wrk(out.stdout))
    finally:
        _stop(server)
    # Hop counters are per process: a one-worker server, so every sampled request is counted.
    server, base = _start(env, workers=1)
    try:
        for path in PAGES.values():
            _wait_ready(base + path, server)
        hops = {
            page: _hops_per_request(base, PAGES[page])
            for page in ("async", "async-one-hop", "sync")
        }
    finally:
        _stop(server)
        shutil.rmtree(workdir, ignore_errors=True)

    def summary(page: str) -> WrkResult:
        items = runs[page]
        return WrkResult(
            statistics.median(r.rps for r in items),
            statistics.median(r.p50_ms for r in items),
            statistics.median(r.p99_ms for r in items),
        )

    results = {page: summary(page) for page in PAGES}

    def figures(result: WrkResult) -> str:
        return f"{result.rps:.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"

    a, s = results["async"], results["sync"]
    ap, sp = results["async-plain"], results["sync-plain"]
    one = results["async-one-hop"]
    report.add(
        Row(
            "9",
            OPERATION,
            f"async: {figures(a)}",
            f"sync: {figures(s)}",
            ratio(a.rps, s.rps),
            "(info)",
            None,
        )
    )
    report.add(
        Row(
            "9*",
            "  same pages without experiments (the server's own async vs sync)",
            f"async: {figures(ap)}",
            f"sync: {figures(sp)}",
            ratio(ap.rps, sp.rps),
            "(info)",
            None,
        )
    )
    report.add(
        Row(
            "9*",
            "  experiments page vs its plain twin, async / sync",
            f"async: {ratio(a.rps, ap.rps)}",
            f"sync: {ratio(s.rps, sp.rps)}",
            "—",
            "(info)",
            None,
        )
    )
    report.add(
        Row(
            "9*",
            "  async view, the 5 resolutions in one sync_to_async hop (a batch's cost)",
            f"async, 1 hop: {figures(one)}",
            f"async, 5 hops: {a.rps:.0f} req/s",
            ratio(one.rps, a.rps),
            "(info)",
            None,
        )
    )
    ours_async, django_async = _split(hops["async"])
    ours_sync, django_sync = _split(hops["sync"])
    report.add(
        Row(
            "9*",
            "  sync_to_async hops per request (django_experiments + Django's own)",
            f"async page: {ours_async:g} + {django_async:g}",
            f"sync page: {ours_sync:g} + {django_sync:g}",
            "—",
            "(info)",
            None,
        )
    )
    report.notes.append(
        f"Section 9: uvicorn {cores} workers, wrk -t1 -c{2 * cores} -d{duration}s, {rounds} "
        "alternating run(s) per page (median), new visitors, the project and store of section 4 "
        f"(example_project's middleware, Redis store). Hops: {HOP_SAMPLE} sequential new "
        "visitors per page on a one-worker server, counted in it by function "
        "(benchmarks/asgi/app.py); django_experiments' hops are one per `aexperiment()` call "
        "and one per request for the end-of-request flush."
    )
    return {"results": results, "hops": hops}
