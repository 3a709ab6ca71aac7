"""Section 4: the same page under gunicorn with wrk on 127.0.0.1, this project beside its peers.

Contenders, each on its own gunicorn server with only its own middleware
(benchmarks/stack/settings.py): this project with the Redis store and with STORE "none",
django-waffle (5 percent flags), the GrowthBook SDK (an instance per request, the visitor id
from a signed cookie), the hand-written floor and the page without experiments. Each serves
the same template, on a trivial page and on a realistic one (plus three ORM queries), to new
visitors (no cookie: every request a new visitor) and returning ones (a fixed cookie set
captured from the contender's own first response).

gunicorn runs sync workers = cores; wrk runs bounded in time (``-d``); rounds alternate over
every target, contenders of one page and visitor kind back to back (their order rotated each
round), so a disturbance of the shared machine hits all of them; the figure per target is the
median over its rounds. The servers are stopped (SIGTERM to their own pids) in a ``finally``.
``BENCH_STACK_ROUNDS`` and ``BENCH_STACK_SECONDS`` override the 3 rounds of 3 s (``--quick``:
1 of 2 s).
"""

from __future__ import annotations

import http.cookies
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks import proc_cpu, stack_rows, wrk
from benchmarks.report import Report
from benchmarks.stack_rows import PLAIN, Key
from benchmarks.wrk import WrkResult

ROOT = Path(__file__).resolve().parent.parent
OPERATION = "full stack: this project vs waffle, GrowthBook and the floor (req/s)"
BUDGET = "see rows"
WARM_UP_SECONDS = 1  # wrk takes whole seconds

#: server name → environment (benchmarks/stack/settings.py reads it).
SERVERS: dict[str, dict[str, str]] = {
    "redis": {"BENCH_STACK_CONTENDER": "glex", "BENCH_STACK_STORE": "redis"},
    "none": {"BENCH_STACK_CONTENDER": "glex", "BENCH_STACK_STORE": "none"},
    "redis_broker": {
        "BENCH_STACK_CONTENDER": "glex",
        "BENCH_STACK_STORE": "redis",
        "BENCH_STACK_HANDOFF": "broker",
    },
    "none_handoff": {
        "BENCH_STACK_CONTENDER": "glex",
        "BENCH_STACK_STORE": "none",
        "BENCH_STACK_HANDOFF": "redis",
    },
    "waffle": {"BENCH_STACK_CONTENDER": "waffle"},
    "growthbook": {"BENCH_STACK_CONTENDER": "growthbook"},
    "bare": {"BENCH_STACK_CONTENDER": "bare"},
}


@dataclass(frozen=True)
class Contender:
    server: str
    path: str  # the trivial page; the realistic one is path + "realistic/"
    header: str | None = None  # one more request header wrk sends


CONTENDERS: dict[str, Contender] = {
    "redis": Contender("redis", "/bench/experiments/"),
    "none": Contender("none", "/bench/experiments/"),
    "redis_broker": Contender("redis_broker", "/bench/experiments/"),
    "none_handoff": Contender("none_handoff", "/bench/experiments/"),
    stack_rows.NO_EVENTS: Contender("none", "/bench/experiments/", "DNT: 1"),
    "waffle": Contender("waffle", "/bench/waffle/"),
    "growthbook": Contender("growthbook", "/bench/growthbook/"),
    "floor": Contender("bare", "/bench/floor/"),
    "floor_redis": Contender("bare", "/bench/floor_redis/"),
    "floor_durable": Contender("bare", "/bench/floor_durable/"),
    PLAIN: Contender("bare", "/bench/plain/"),
}


def page_path(contender: str, page: str) -> str:
    path = CONTENDERS[contender].path
    return path + "realistic/" if page == "realistic" else path


_VARIANT = re.compile(r"<p class='(bench_\d+)'>(\w+)</p>")


def variants(body: str) -> list[tuple[str, str]]:
    """The (experiment, variant) pairs a bench page rendered."""
    return _VARIANT.findall(body)


def cookie_header(set_cookies: list[str]) -> str:
    """The ``Cookie`` header a browser sends back after these ``Set-Cookie`` headers."""
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    for header in set_cookies:
        jar.load(header)
    return "; ".join(f"{m.key}={m.coded_value}" for m in jar.values())


def _fetch(url: str, cookie: str | None = None) -> tuple[int, str, list[str]]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read().decode()
        return response.status, body, response.headers.get_all("Set-Cookie") or []


def probe(base: str, contender: str) -> str:
    """The returning visitor's cookie set, from the contender's first response; raises if wrong.

    Checks that both pages answer 200 with five variants, that a first visit gets cookies,
    and that sending them back shows the same variants (each contender is sticky).
    """
    status, body, set_cookies = _fetch(base + page_path(contender, "trivial"))
    first = variants(body)
    if status != 200 or len(first) != 5:
        raise RuntimeError(f"{contender}: answered {status} with {len(first)} variants")
    cookie = cookie_header(set_cookies)
    if contender != PLAIN and not cookie:
        raise RuntimeError(f"{contender}: a first visit got no cookie")
    for page in stack_rows.PAGES:
        status, body, _ = _fetch(base + page_path(contender, page), cookie or None)
        if status != 200 or variants(body) != first:
            raise RuntimeError(f"{contender}: a returning visitor saw other variants ({page})")
    return cookie


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # up and answering: the probe reports what is wrong with the page
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn for {url} did not come up") from None
            time.sleep(0.2)


def _venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


@dataclass(frozen=True)
class Server:
    base: str  # http://127.0.0.1:port
    pid: int  # the gunicorn master's (its workers are its children)


@contextmanager
def _servers(env: Mapping[str, str], workdir: Path, cores: int) -> Iterator[dict[str, Server]]:
    """One gunicorn per server name (an idle one costs nothing)."""
    running: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for name, extra in SERVERS.items():
            port = _free_port()
            log = (workdir / f"gunicorn-{name}.log").open("wb")
            server = subprocess.Popen(
                [
                    _venv_bin("gunicorn"),
                    "benchmarks.stack.wsgi:application",
                    *("--workers", str(cores), "--worker-class", "sync"),
                    *("--bind", f"127.0.0.1:{port}", "--log-level", "warning"),
                ],
                cwd=ROOT,
                env={**env, **extra},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            log.close()
            running[name] = (server, f"http://127.0.0.1:{port}")
        for name, (server, base) in running.items():
            try:
                _wait_ready(base + "/bench/plain/", server)
            except RuntimeError as exc:
                tail = (workdir / f"gunicorn-{name}.log").read_text(errors="replace")[-400:]
                raise RuntimeError(f"{exc}: {tail}") from None
        yield {name: Server(base, server.pid) for name, (server, base) in running.items()}
    finally:
        for server, _ in running.values():
            server.send_signal(signal.SIGTERM)
        for server, _ in running.values():
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _prepare(env: Mapping[str, str]) -> str | None:
    """Migrate and create every contender's data; the reason it failed, or None."""
    prepared = subprocess.run(
        [sys.executable, "-m", "benchmarks.stack.prepare"],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        result = json.loads(prepared.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return f"prepare failed: {prepared.stderr.strip()[-300:]}"
    return None if result["ok"] else str(result["reason"])


def _clear_store(url: str, match: str = "*glexstack*") -> None:
    """Drop the stack's assignments and hand-off lists (its own key prefix on the benchmark's
    Redis db)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=match, count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


def _broker(url: str) -> str | None:
    """Why the broker at ``url`` cannot take the tracking publishes, or None when it can."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _delete_queue(url: str, queue: str) -> None:
    from kombu import Connection, Queue

    with Connection(url, connect_timeout=3) as conn:
        Queue(queue).bind(conn.default_channel).delete()


def _safe(url: str) -> str:
    """The URL without its credentials, for the report."""
    return re.sub(r"//[^@/]*@", "//", url)


def _order(round_no: int) -> list[Key]:
    """Every target once; one page and visitor kind together, contenders rotated per round."""
    out: list[Key] = []
    contenders = [*stack_rows.OURS, *stack_rows.PEERS, stack_rows.NO_EVENTS]
    shift = round_no % len(contenders)
    rotated = contenders[shift:] + contenders[:shift]
    for page in stack_rows.PAGES:
        out.append((PLAIN, page, "new"))
        for visitor in stack_rows.VISITORS:
            out += [(contender, page, visitor) for contender in rotated]
    return out


_NOTE = (
    "Section 4: gunicorn {cores} sync workers per contender, wrk -t1 -c{c} -d{d:g}s, {rounds} "
    "alternating round(s) per target (median), after a short unmeasured warm-up of every "
    "target. 'µs CPU/req' is the user + system CPU time of the server's workers (all threads, "
    "from /proc) over the round divided by the requests wrk completed: on this shared machine "
    "requests/s follows the share of the cores the workers get, CPU per request much less; "
    "'(CPU n×)' beside a ratio is the reference's CPU per request over this project's, the "
    "ratio an otherwise idle machine approaches. Verdicts are on requests/s. Each contender "
    "runs on its own server with only its own middleware (benchmarks/stack/settings.py) and "
    "renders the same template (benchmarks/stack/views.py): this project "
    "(`request.experiment(name).assigned.name`, after `request.experiment.prefetch(...)` where "
    "the core has it); django-waffle (`flag_is_active` on 5 percent flags at 50 %, "
    "WaffleMiddleware writing its cookies); GrowthBook (one instance per request in a "
    "middleware, destroyed at its end, the visitor id from a Django signed cookie minted when "
    "absent, `run` on 5 experiments built once per process); the floor (request.user, the "
    "signed visitor cookie read or minted, 5 HMAC-SHA256 slot lookups, `Vary: Cookie`, by "
    "hand); the Redis floor (the floor plus this project's Redis design at its cheapest: the 5 "
    "assignments as HSETNX and the 5 exposures as one RPUSH of a JSON list, in one raw redis-py "
    "pipeline, for new and returning visitors alike, by hand); the durable floor (the floor "
    "plus what this project does before the response: "
    "a new visitor's 5 assignments in one raw redis-py pipeline of HSETNX, a returning "
    "visitor's read in one pipeline of HGET, and the 5 exposures published as one Celery task "
    "with `send_task`, by hand); and the page without experiments (5 fixed variants); as a "
    "diagnosis, this "
    "project with STORE 'none' for requests sending `DNT: 1` (no events published). 5 "
    "experiments, 50/50 "
    "everywhere. New visitors send no cookie (every request a new visitor); returning visitors "
    "send the cookie set of the contender's own first response (checked to show the same "
    "variants). The realistic page adds three small ORM queries on a 50-row table (SQLite, "
    "persistent connections). The machine is shared: other work runs beside, so compare rows "
    "of one run, not runs."
)


def run(report: Report, quick: bool, rtt_us: float | None = None) -> dict[Key, WrkResult] | None:
    """``rtt_us``: one raw redis-py HGET round trip (section 2), for the finding."""
    missing = [tool for tool in ("wrk",) if shutil.which(tool) is None]
    missing += [dist for dist in ("waffle", "growthbook") if importlib.util.find_spec(dist) is None]
    if missing:
        hint = f"missing {', '.join(missing)} (apt-get install wrk; pip install -e '.[bench]')"
        report.not_run("4", OPERATION, BUDGET, hint)
        return None
    cores = os.cpu_count() or 1
    connections = 2 * cores
    # Short rounds keep the section near 5 minutes on 2 cores; a quiet machine can afford more.
    seconds = int(os.environ.get("BENCH_STACK_SECONDS", 2 if quick else 3))
    rounds = int(os.environ.get("BENCH_STACK_ROUNDS", 1 if quick else 3))
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    workdir = Path(tempfile.mkdtemp(prefix="glex-bench-stack-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.stack.settings",
        "BENCH_STACK_DB": str(workdir / "stack.sqlite3"),
        "BENCH_REDIS_URL": redis_url,
        "PYTHONPATH": str(ROOT),
    }
    # This project publishes its events on the request thread, as in production: to a real
    # broker (a queue of the run's own, deleted afterwards). Without one, example_project's
    # eager in-memory Celery would run the delivery task inside every request instead.
    broker_url = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    queue = f"glex-stack-{os.getpid()}"
    broker_problem = _broker(broker_url)
    if broker_problem is None:
        env["CELERY_BROKER_URL"] = broker_url
        env["BENCH_STACK_TRACKING_QUEUE"] = queue
    else:
        env.pop("CELERY_BROKER_URL", None)  # example_project: Celery eager, in memory
    runs: dict[Key, list[WrkResult]] = {key: [] for key in stack_rows.targets()}
    try:
        reason = _prepare(env)
        if reason is not None:
            report.not_run("4", OPERATION, BUDGET, reason)
            return None
        try:
            _clear_store(redis_url)
        except Exception as exc:  # redis-py's errors are not OSErrors
            report.not_run("4", OPERATION, BUDGET, f"Redis at {redis_url}: {exc}")
            return None
        with _servers(env, workdir, cores) as servers:
            cookies = {n: probe(servers[c.server].base, n) for n, c in CONTENDERS.items()}

            def measure(key: Key, seconds: int) -> WrkResult:
                contender, page, visitor = key
                server = servers[CONTENDERS[contender].server]
                cookie = cookies[contender] if visitor == "returning" else None
                header = CONTENDERS[contender].header
                workers = proc_cpu.children(server.pid)
                before = proc_cpu.cpu_seconds(workers)
                url = server.base + page_path(contender, page)
                result = wrk.run(url, connections, seconds, cookie, header)
                after = proc_cpu.cpu_seconds(workers)
                if contender in stack_rows.OURS:
                    # No drain runs: keep Redis's memory flat between measurements.
                    _clear_store(redis_url, match="*glexstack-events*")
                if before is None or after is None or not result.requests or not workers:
                    return result
                return replace(result, cpu_us=(after - before) / result.requests * 1e6)

            for key in _order(0):  # warm every worker on every page, unmeasured
                if key[2] == "new":
                    measure(key, WARM_UP_SECONDS)
            for round_no in range(rounds):
                for key in _order(round_no):
                    runs[key].append(measure(key, seconds))
    except (RuntimeError, OSError) as exc:  # a server that did not start, a failed probe
        report.not_run("4", OPERATION, BUDGET, str(exc))
        return None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        with suppress(Exception):  # cleanup only: the figures stand without it
            _clear_store(redis_url)
        if broker_problem is None:
            with suppress(Exception):
                _delete_queue(broker_url, queue)

    results = {key: wrk.median(items) for key, items in runs.items()}
    for row in stack_rows.rows(results):
        report.add(row)
    tracking = (
        "This project's events are handed over on the request thread as configured: with the "
        "Redis store by default (TRACKING_HANDOFF 'auto') and with the 'redis' hand-off, to a "
        "Redis list in the round trip that writes the request's assignments (no drain runs "
        "during the benchmark; the list is deleted after each measurement); with STORE 'none' "
        "by default and with the 'broker' hand-off, to a real broker "
        f"({_safe(broker_url)}, a queue of the run's own that no worker consumes, deleted "
        "afterwards)."
        if broker_problem is None
        else f"No broker ({broker_problem}): this project's events went to Celery eager, in "
        "memory, which runs the delivery task inside each request (costlier than a publish)."
    )
    note = _NOTE.format(cores=cores, c=connections, d=seconds, rounds=rounds)
    report.notes.append(f"{note} {tracking}")
    if stack_rows.failures(results):
        report.findings.append(stack_rows.finding(results, cores, rtt_us))
    return results
