"""Section 2: resolution with the Redis hash store (miss, hit, repeat in the same request)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings as django_settings
from django.test.utils import override_settings

from benchmarks.redis_counting import round_trips
from benchmarks.report import Report, Row, fmt_us, ratio
from benchmarks.timing import IdSource, Plan, Timing, measure
from django_experiments import experiment
from django_experiments.engine.scope import Scope, activate
from django_experiments.engine.stores import get_store

HASH = "glexbench:cta"


def client() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection("store")


@contextmanager
def store(kind: str, handoff: str = "broker") -> Iterator[None]:
    """Switch DJANGO_EXPERIMENTS["STORE"] the supported way (override_settings).

    The per-resolution rows count the store's own round trips, so events go to the broker
    there (``handoff``); the per-request rows use the default hand-off, as a site does.
    """
    value = {**django_settings.DJANGO_EXPERIMENTS, "STORE": kind, "TRACKING_HANDOFF": handoff}
    with override_settings(DJANGO_EXPERIMENTS=value):
        yield


def command_count(redis: Any) -> int:
    """Commands the server executed (all clients; INFO itself excluded)."""
    stats = redis.info("commandstats")
    return sum(
        int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_ping")
    )


class Counted:
    """Round trips (client-side) and commands (server-side) over everything measured."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.trips = 0
        self.commands = 0
        self.calls = 0

    def wrap(self, batch: Callable[[Sequence[Any]], object]) -> Callable[[Sequence[Any]], None]:
        def counted(items: Sequence[Any]) -> None:
            # INFO is itself a round trip: read the server count outside the client count.
            commands = command_count(self.redis)
            trips = round_trips()
            batch(items)
            self.trips += round_trips() - trips
            self.commands += command_count(self.redis) - commands
            self.calls += len(items)

        return counted

    @property
    def per_call(self) -> float:
        return self.trips / self.calls if self.calls else float("nan")

    @property
    def commands_per_call(self) -> float:
        return self.commands / self.calls if self.calls else float("nan")


def _resolve(ids: Sequence[str]) -> None:
    for uid in ids:
        experiment("cta", actor=uid).assigned  # noqa: B018


def _resolve_in_scopes(items: Sequence[tuple[Scope, str]]) -> None:
    for scope, uid in items:
        with activate(scope):
            experiment("cta", actor=uid).assigned  # noqa: B018


def run(report: Report, plan: Plan) -> dict[str, Timing]:
    redis = client()
    redis.flushdb()
    redis.ping()  # the connection (and its handshake) exists before anything is counted
    plan = plan.scaled(0.3)  # network-bound: fewer calls per repeat, same number of repeats
    results: dict[str, Timing] = {}
    with store("redis"):
        assert get_store().name == "redis"
        miss = Counted(redis)
        results["miss"] = measure(miss.wrap(_resolve), IdSource("rm-"), plan, warmup=False)

        hit_ids = IdSource("rh-")

        def stored_inputs(repeat: int, calls: int) -> list[str]:
            ids = hit_ids(repeat, calls)
            _resolve(ids)  # first visit stores; the timed pass reads it back
            return ids

        hit = Counted(redis)
        results["hit"] = measure(hit.wrap(_resolve), stored_inputs, plan, warmup=False)

        scoped_ids = IdSource("rs-")

        def scoped_inputs(repeat: int, calls: int) -> list[tuple[Scope, str]]:
            items = [(Scope(), uid) for uid in scoped_ids(repeat, calls)]
            _resolve_in_scopes(items)  # the first resolution in each "request"
            return items

        again = Counted(redis)
        results["repeat"] = measure(
            again.wrap(_resolve_in_scopes), scoped_inputs, plan, warmup=False
        )

    floor_ids = IdSource("rf-")

    def floor_miss(ids: Sequence[str]) -> None:
        for uid in ids:
            if redis.hget(HASH + ":floor", uid) is None:
                redis.hset(HASH + ":floor", uid, "control")

    def floor_hit_inputs(repeat: int, calls: int) -> list[str]:
        ids = floor_ids(repeat, calls)
        floor_miss(ids)
        return ids

    def floor_hit(ids: Sequence[str]) -> None:
        for uid in ids:
            redis.hget(HASH + ":floor", uid)

    results["floor_miss"] = measure(floor_miss, IdSource("rg-"), plan, warmup=False)
    results["floor_hit"] = measure(floor_hit, floor_hit_inputs, plan, warmup=False)

    def row(
        label: str,
        counted: Counted,
        timing: Timing,
        floor: Timing | None,
        budget: float,
        exact: bool,
    ) -> None:
        trips = counted.per_call
        ok = abs(trips - budget) < 1e-9 if exact else trips <= budget + 1e-9
        peer = f"raw redis-py {fmt_us(floor.median_us)}" if floor is not None else "—"
        report.add(
            Row(
                "2",
                f"Redis store {label}: round trips / resolution ({fmt_us(timing.median_us)})",
                f"{trips:.2f} RTT, {counted.commands_per_call:.2f} cmds",
                peer,
                ratio(timing.median_us, floor.median_us) if floor is not None else "—",
                f"{'=' if exact else '≤'} {budget:g} RTT",
                ok,
            )
        )

    _request_rows(report, redis)
    row("miss", miss, results["miss"], results["floor_miss"], 2, False)
    row("hit", hit, results["hit"], results["floor_hit"], 1, True)
    row("repeat in same request", again, results["repeat"], None, 0, True)
    report.notes.append(
        "Section 2 peers are a raw redis-py floor on the same connection: miss = the naive "
        "sticky write (HGET, then HSET: 2 round trips), hit = one HGET; the ratio compares "
        "time per resolution. "
        "'cmds' is the server-side INFO commandstats delta per resolution (all clients)."
    )
    return results


REQUEST_EXPERIMENTS = tuple(f"req_{i}" for i in range(1, 6))
REQUESTS = 200


def _request_rows(report: Report, redis: Any) -> None:
    """Round trips per request for a page resolving 5 experiments, as the middleware runs it
    (a deferring scope, closed at the end: writes and events), with the default hand-off.

    A new visitor (anonymous id minted in the request): nothing can be stored, so no read; its
    five new assignments and its events are written in one round trip when the scope closes,
    before the response (engine/assignments.py). A returning visitor: no read on slots whose
    owner never changed (predictable claims, written with the events), else one read-or-claim
    per experiment, or one round trip in all with the explicit multi-read (``prefetch``).
    """
    from benchmarks import fixtures
    from django_experiments import middleware, prefetch

    for name in REQUEST_EXPERIMENTS:
        if name not in fixtures.running_names():
            fixtures.create_experiment(name, [("control", 50), ("candidate", 50)])
    fixtures.warm()

    def page(scope: Scope, fetch: bool = False) -> Scope:
        with activate(scope):
            if fetch:
                prefetch(REQUEST_EXPERIMENTS, actor=None)
            for name in REQUEST_EXPERIMENTS:
                experiment(name, actor=None).assigned  # noqa: B018
        middleware.close(scope)  # as the middleware does before the response
        return scope

    with store("redis", handoff="auto"):
        redis.ping()
        # New visitors, as the middleware binds them: the scope closes before the response.
        scopes = [Scope(deferring=True) for _ in range(REQUESTS)]
        before = round_trips()
        for scope in scopes:
            page(scope)
        new = round_trips() - before
        # The same visitors again, now returning (their cookie is read, not minted).
        before = round_trips()
        for scope in scopes:
            page(Scope(anonymous_id=scope.new_anonymous_id, deferring=True))
        returning = round_trips() - before
        before = round_trips()
        for scope in scopes:
            page(Scope(anonymous_id=scope.new_anonymous_id, deferring=True), fetch=True)
        fetched = round_trips() - before
        redis.delete(*redis.keys("*glex:events*"))  # no drain runs here
    report.add(
        Row(
            "2",
            f"page of {len(REQUEST_EXPERIMENTS)} experiments, new visitor: round trips / request "
            "(0 reads; the writes and the events in one round trip before the response)",
            f"{new / REQUESTS:.2f} RTT",
            "budget: 0 reads + 1 pipelined write",
            budget="= 1 RTT",
            passed=new == REQUESTS,
        )
    )
    report.add(
        Row(
            "2",
            f"page of {len(REQUEST_EXPERIMENTS)} experiments, returning visitor: round trips / "
            "request (no read on unchanged slots; the claims and the events in one round trip)",
            f"{returning / REQUESTS:.2f} RTT",
            f"budget: ≤ {len(REQUEST_EXPERIMENTS)} (one per experiment)",
            budget=f"≤ {len(REQUEST_EXPERIMENTS)} RTT",
            passed=returning <= len(REQUEST_EXPERIMENTS) * REQUESTS,
        )
    )
    report.add(
        Row(
            "2",
            f"page of {len(REQUEST_EXPERIMENTS)} experiments, returning visitor with "
            "request.experiment.prefetch(...): round trips / request",
            f"{fetched / REQUESTS:.2f} RTT",
            "budget: 1 (the explicit multi-read)",
            budget="= 1 RTT",
            passed=fetched == REQUESTS,
        )
    )
