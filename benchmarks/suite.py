"""Runs the sections in order and writes the report (imported after django.setup())."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    bench_asgi,
    bench_inprocess,
    bench_memory,
    bench_migration,
    bench_redis,
    bench_results,
    bench_scaling,
    bench_stack,
    bench_tracking,
    fixtures,
    machine,
)
from benchmarks.report import Report, Row, text_table, write_markdown
from benchmarks.timing import Plan


def _redis_client() -> object | None:
    try:
        from django_redis import get_redis_connection

        client = get_redis_connection("store")
        client.ping()
        return client
    except Exception:
        return None


def run_all(quick: bool, sections: list[str], output: Path | None, command: str) -> int:
    plan = Plan(repeats=5, calls=2_000) if quick else Plan(repeats=9, calls=10_000)
    report = Report()
    fixtures.migrate()
    fixtures.create_experiment("cta", [("control", 90), ("candidate", 10)])
    fixtures.warm()

    results: dict[str, object] = {}

    def raw_rtt_us() -> float | None:
        """Section 2's raw redis-py HGET (one loopback round trip), when it ran first."""
        redis = results.get("2")
        floor = redis.get("floor_hit") if isinstance(redis, dict) else None
        return floor.median_us if floor is not None else None

    steps: dict[str, Callable[[], object]] = {
        "1": lambda: bench_inprocess.run(report, plan),
        "2": lambda: bench_redis.run(report, plan),
        "3": lambda: bench_migration.run(report, plan),
        "6": lambda: bench_memory.run(report, quick),
        "7": lambda: bench_scaling.run(report, plan),
        "4": lambda: bench_stack.run(report, quick, raw_rtt_us()),
        "5": lambda: bench_tracking.run(report, plan, quick),
        "8": lambda: bench_results.run(report, quick),
        "9": lambda: bench_asgi.run(report, quick),
    }
    for section in sections:
        step = steps.get(section)
        if step is None:
            continue
        print(f"--- section {section}", flush=True)
        try:
            results[section] = step()
        except Exception as exc:
            traceback.print_exc()
            report.add(Row(section, "section crashed", f"error: {exc!r}", passed=False))

    table = text_table(report.rows)
    print()
    print(table)
    for finding in report.findings:
        print()
        print(finding)
    method = (
        f"In-process timings (sections 1 and 7) are the best of {plan.repeats} repeats of "
        f"{plan.calls} calls{' (--quick)' if quick else ''}, contenders interleaved repeat by "
        "repeat; Redis-bound timings (section 2) and the tracking request path (section 5) are "
        "the median of the same number of repeats (section 5: see its note); "
        "full-stack figures are the median of alternating wrk runs. Every call uses a new "
        "context (fresh actor id) unless the row says otherwise. Round trips are counted on "
        "the client (one per request written to the Redis socket: a pipeline is one). Rows "
        "marked `4*` are information rows beside section 4's budget rows: every other ratio "
        "of this project's configurations to the peers, the hand-written floor and the page "
        "without experiments, and the peers' own figures. Section 8 (results) runs in a "
        "child process on PostgreSQL: the median of repeated full results computations."
    )
    if output is not None:
        write_markdown(output, report, machine.describe(_redis_client()), command, method)
        print(f"\nwrote {output}")
    failed = any(r.passed is False for r in report.rows)
    return 1 if failed else 0
