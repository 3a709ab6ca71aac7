"""Section 7: resolution time at 1, 10, 100 running experiments and 2, 10, 50 treatments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import fixtures
from benchmarks.bench_inprocess import ours_batch
from benchmarks.report import Report, Row, fmt_us, ratio
from benchmarks.timing import Case, IdSource, Plan, Timing, compare
from django_experiments.engine import definitions

EXPERIMENTS = (1, 10, 100)
TREATMENTS = (2, 10, 50)
#: "Flat": the largest size may cost at most this much more than the smallest (noise margin).
FLAT = 1.3


def with_snapshot(batch: Callable[[Sequence[str]], None], snapshot: dict[str, Any]) -> Any:
    """Run ``batch`` with the process's definitions snapshot holding exactly ``snapshot``.

    Benchmark-only: swapping the warm snapshot (same version token, so no reload) lets the
    1/10/100-experiment cases be interleaved repeat by repeat like every other comparison.
    """

    def run(ids: Sequence[str]) -> None:
        snap = definitions._snapshot
        saved = snap.definitions
        snap.definitions = snapshot
        try:
            batch(ids)
        finally:
            snap.definitions = saved

    return run


def run(report: Report, plan: Plan) -> dict[str, Timing]:
    out: dict[str, Timing] = {}
    fixtures.ensure_running(max(EXPERIMENTS))
    full = definitions.all_definitions()
    names = ["cta", *(n for n in fixtures.running_names() if n != "cta")]
    out.update(
        compare(
            {
                f"exp{n}": Case(
                    with_snapshot(ours_batch("cta"), {k: full[k] for k in names[:n]}),
                    IdSource(f"s{n}-"),
                )
                for n in EXPERIMENTS
            },
            plan,
        )
    )
    for n in TREATMENTS:
        fixtures.create_experiment(f"treat_{n}", fixtures.equal_weights(n))
    fixtures.warm()
    out.update(
        compare(
            {f"treat{n}": Case(ours_batch(f"treat_{n}"), IdSource(f"t{n}-")) for n in TREATMENTS},
            plan,
        )
    )

    for label, sizes, prefix in (
        ("running experiments", EXPERIMENTS, "exp"),
        ("treatments", TREATMENTS, "treat"),
    ):
        values = [out[f"{prefix}{n}"].best_us for n in sizes]
        figures = ", ".join(f"{n}: {fmt_us(v)}" for n, v in zip(sizes, values, strict=True))
        report.add(
            Row(
                "7",
                f"scaling with {label} {'/'.join(map(str, sizes))}",
                figures,
                ratio=ratio(max(values), min(values)) + " max/min",
                budget=f"flat (≤ {FLAT}× max/min)",
                passed=max(values) <= FLAT * min(values),
            )
        )
    return out
