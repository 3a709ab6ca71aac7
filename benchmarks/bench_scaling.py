"""Section 7: resolution time at 1, 10, 100 running experiments and 2, 10, 50 treatments."""

from __future__ import annotations

from benchmarks import fixtures
from benchmarks.bench_inprocess import ours_batch
from benchmarks.report import Report, Row, fmt_us, ratio
from benchmarks.timing import Case, IdSource, Plan, Timing, compare, measure

EXPERIMENTS = (1, 10, 100)
TREATMENTS = (2, 10, 50)
#: "Flat": the largest size may cost at most this much more than the smallest (noise margin).
FLAT = 1.3


def run(report: Report, plan: Plan) -> dict[str, Timing]:
    out: dict[str, Timing] = {}
    for n in EXPERIMENTS:
        fixtures.ensure_running(n)
        out[f"exp{n}"] = measure(ours_batch("cta"), IdSource(f"s{n}-"), plan)
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
        base = out[f"{prefix}{sizes[0]}"].best_us
        figures = ", ".join(f"{n}: {fmt_us(out[f'{prefix}{n}'].best_us)}" for n in sizes)
        worst = max(out[f"{prefix}{n}"].best_us for n in sizes)
        report.add(
            Row(
                "7",
                f"scaling with {label} {'/'.join(map(str, sizes))}",
                figures,
                ratio=ratio(worst, base) + " max/first",
                budget=f"flat (≤ {FLAT}× first)",
                passed=worst <= FLAT * base,
            )
        )
    return out
