"""Section 8: results over 1,000,000 exposures and 1,000,000 conversion events (PostgreSQL).

Runs ``benchmarks/results_pg.py`` in a child process on its own PostgreSQL database
(``BENCH_RESULTS_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/glex_bench_results``):
events generated in the database, rollups built by the worker's own code, then the median
time of ``results_for`` (what the admin page and the JSON URL call) and its peak Python
memory at a tenth of the events and at all of them. Generated data is kept between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.report import Report, Row

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 1.0
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/glex_bench_results"
OP_TIME = "results: full computation, {n} exposures + {n} conversions, PostgreSQL (median)"
OP_MEMORY = "  peak Python memory of one computation, {small} vs {n} events each"
OP_REBUILD = "  rollups rebuilt from raw events by the worker's code (rebuild_results)"
OP_INGEST = "  DatabaseSink incl. rollup refresh, PostgreSQL (events/s, one process)"


def run(report: Report, quick: bool) -> dict[str, object] | None:
    events = 100_000 if quick else 1_000_000
    env = {**os.environ, "BENCH_RESULTS_DATABASE_URL": _url()}
    command = [
        sys.executable,
        "-m",
        "benchmarks.results_pg",
        "--events",
        str(events),
        "--repeats",
        "5" if quick else "9",
        "--ingest",
        "5000" if quick else "20000",
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=7200
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1][:160]
        report.not_run("8", OP_TIME.format(n=f"{events:,}"), f"≤ {BUDGET_S:g} s", reason)
        return None
    data: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    large = data["large"]
    small = data["small"]
    prepare = data["prepare"]
    assert isinstance(large, dict) and isinstance(small, dict) and isinstance(prepare, dict)
    median = float(large["median_s"])
    report.add(
        Row(
            "8",
            OP_TIME.format(n=f"{events:,}"),
            f"{median * 1000:.1f} ms",
            budget=f"≤ {BUDGET_S:g} s",
            passed=median <= BUDGET_S,
        )
    )
    # Flat memory: the larger phase must not need more than the smaller one plus slack for
    # allocator noise (the rows read are days x variants in both).
    grew = float(large["peak_kib"]) - float(small["peak_kib"])
    report.add(
        Row(
            "8",
            OP_MEMORY.format(small=f"{int(data['small_events']):,}", n=f"{events:,}"),
            f"{float(small['peak_kib']):.0f} KiB vs {float(large['peak_kib']):.0f} KiB",
            budget="no growth with events",
            passed=grew <= 64,
        )
    )
    small_events = 2 * int(str(data["small_events"]))
    rebuild_s = float(str(data["rebuild_small_s"]))
    report.add(
        Row(
            "8",
            OP_REBUILD,
            f"{small_events / rebuild_s:,.0f} events/s ({small_events:,} events, "
            f"{rebuild_s:.0f} s)",
        )
    )
    report.add(Row("8", OP_INGEST, f"{float(str(data['ingest_eps'])):,.0f} events/s"))
    return data


def _url() -> str:
    return os.environ.get("BENCH_RESULTS_DATABASE_URL", DEFAULT_URL)
