"""Section 3: login migration round trips with 1, 10 and 50 running experiments."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks import fixtures
from benchmarks.redis_counting import round_trips
from benchmarks.report import Report, Row, fmt_us
from benchmarks.timing import Plan
from django_experiments.engine import definitions
from django_experiments.engine.context import key_for
from django_experiments.engine.stores import RedisHashStore

SIZES = (1, 10, 50)

Migrate = Callable[[RedisHashStore, list[tuple[str, str, str]]], dict[str, str]]


def _default_migrate(store: RedisHashStore, moves: list[tuple[str, str, str]]) -> dict[str, str]:
    return store.migrate(moves)


def measure_migrate(
    n: int, repeats: int, migrate: Migrate = _default_migrate, tag: str = ""
) -> tuple[list[int], float]:
    """Round trips of each repeat and the median time, for moves of ``n`` experiments."""
    store = RedisHashStore(alias="store", prefix="glexbench")
    client: Any = store.client
    names = fixtures.running_names()[:n]
    defs = definitions.all_definitions()
    trips: list[int] = []
    times: list[float] = []
    for repeat in range(repeats):
        moves = []
        pipe = client.pipeline(transaction=False)
        for name in names:
            store_name = defs[name].store_name
            old = key_for(name, {"actor": f"anon:{tag}{n}-{repeat}"})
            new = key_for(name, {"actor": f"user:{tag}{n}-{repeat}"})
            pipe.hset(store.hash_key(store_name), old, "control")
            moves.append((store_name, old, new))
        pipe.execute()  # the anonymous visitor's assignments, stored before logging in
        before = round_trips()
        start = time.perf_counter_ns()
        moved = migrate(store, moves)
        times.append((time.perf_counter_ns() - start) / 1000)
        trips.append(round_trips() - before)
        if len(moved) != n:
            raise AssertionError(f"migrate moved {len(moved)} of {n} experiments")
    return trips, statistics.median(times)


def run(report: Report, plan: Plan) -> dict[int, tuple[list[int], float]]:
    fixtures.ensure_running(max(SIZES))
    results = {}
    repeats = max(3, plan.repeats)
    for n in SIZES:
        trips, median_us = measure_migrate(n, repeats)
        results[n] = (trips, median_us)
        report.add(
            Row(
                "3",
                f"login migration, {n} running experiment(s): round trips ({fmt_us(median_us)})",
                f"{max(trips)} RTT (first call {trips[0]})",
                budget="= 1 RTT",
                passed=max(trips) == 1,
            )
        )
    return results
