"""The table of reference cases every statistics test runs on.

Each case is a control and one or more treatments as summary statistics. Value metrics are built
from explicit per-context values so that scipy can also test the raw samples.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from django_experiments.stats import Summary, binomial, mean_metric


def values(xs: Sequence[float]) -> Summary:
    return mean_metric(len(xs), float(sum(xs)), float(sum(x * x for x in xs)))


def _revenue(seed: int, n: int, buy_rate: float, basket: float) -> list[float]:
    """Mostly zeros, sometimes a skewed positive amount: what a revenue metric looks like."""
    rng = random.Random(seed)
    return [
        round(rng.lognormvariate(0, 1) * basket, 2) if rng.random() < buy_rate else 0.0
        for _ in range(n)
    ]


@dataclass(frozen=True)
class Case:
    id: str
    control: Summary
    treatments: dict[str, Summary]
    # per-context values, when the case was built from them (scipy's raw-sample tests)
    raw: dict[str, list[float]] = field(default_factory=dict)


def _binomial_case(id: str, control: tuple[int, int], *treatments: tuple[int, int]) -> Case:
    return Case(
        id,
        binomial(*control),
        {f"t{i + 1}": binomial(*t) for i, t in enumerate(treatments)},
    )


def _values_case(id: str, control: list[float], *treatments: list[float]) -> Case:
    raw = {"control": control, **{f"t{i + 1}": t for i, t in enumerate(treatments)}}
    return Case(
        id, values(control), {f"t{i + 1}": values(t) for i, t in enumerate(treatments)}, raw
    )


CASES: list[Case] = [
    # binomial: (n, converted)
    _binomial_case("binomial-typical", (1000, 100), (1200, 150)),
    _binomial_case("binomial-tiny", (10, 1), (10, 3)),
    _binomial_case("binomial-tinier", (3, 1), (4, 2)),
    _binomial_case("binomial-zero-control", (1000, 0), (1000, 5)),
    _binomial_case("binomial-zero-treatment", (1000, 5), (1000, 0)),
    _binomial_case("binomial-zero-both", (500, 0), (500, 0)),
    _binomial_case("binomial-all-converted-control", (50, 50), (50, 45)),
    _binomial_case("binomial-all-converted-treatment", (50, 45), (50, 50)),
    _binomial_case("binomial-all-converted-both", (20, 20), (30, 30)),
    _binomial_case("binomial-unequal-n", (100_000, 5000), (150, 12)),
    _binomial_case("binomial-unequal-n-reversed", (20, 5), (50_000, 10_000)),
    _binomial_case("binomial-large", (1_000_000, 100_000), (1_000_000, 101_000)),
    _binomial_case("binomial-strong-effect", (5000, 250), (5000, 500)),
    _binomial_case("binomial-n-zero-control", (0, 0), (100, 10)),
    _binomial_case("binomial-n-zero-treatment", (100, 10), (0, 0)),
    _binomial_case("binomial-n-one", (1, 1), (1, 0)),
    _binomial_case("binomial-three-variants", (2000, 200), (2000, 230), (2000, 185)),
    _binomial_case(
        "binomial-five-variants", (4000, 400), (4000, 410), (4000, 470), (3900, 380), (4100, 455)
    ),
    # value metrics: per-context values
    _values_case("values-tiny", [1.0, 2.0], [3.0, 5.0, 4.0]),
    _values_case("values-revenue", _revenue(1, 3000, 0.05, 40), _revenue(2, 3000, 0.06, 40)),
    _values_case(
        "values-revenue-unequal-n", _revenue(3, 20_000, 0.05, 40), _revenue(4, 60, 0.1, 40)
    ),
    _values_case("values-negative-control-mean", [-3.0, -1.0, -2.5, 0.5], [-1.0, 0.0, -0.5, 1.0]),
    _values_case("values-zero-control-mean", [0.0] * 30, [0.0] * 25 + [2.0, 1.0, 3.0, 0.5, 1.5]),
    _values_case("values-constant", [2.0] * 10, [2.0] * 12),
    _values_case("values-constant-control", [2.0] * 10, [1.0, 2.0, 3.0, 2.5]),
    _values_case("values-mixed-sign-zero-mean", [-1.0, 1.0, -2.0, 2.0], [0.5, 1.5, 1.0, 0.0]),
    _values_case("values-n-one", [4.0], [5.0, 7.0]),
    _values_case("values-n-zero", [], [5.0, 7.0]),
    _values_case(
        "values-three-variants",
        _revenue(5, 4000, 0.05, 30),
        _revenue(6, 4000, 0.05, 33),
        _revenue(7, 4000, 0.07, 30),
    ),
]

#: (control, treatment) pairs: every treatment of every case against its control.
PAIRS: list[tuple[str, Summary, Summary]] = [
    (f"{case.id}/{name}", case.control, treatment)
    for case in CASES
    for name, treatment in case.treatments.items()
]

ALPHAS = (0.05, 0.01, 0.1)
SEQUENTIAL_TUNINGS = (5000.0, 100.0, 250_000.0)
