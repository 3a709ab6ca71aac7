"""Repeat a measurement N times; keep both the best and the median of the N repeats.

CPU-bound in-process figures are reported as best-of-N (the least disturbed run: this machine
is shared with other work, and disturbances only ever add time), network-bound ones as the
median of N. Operations compared side by side are interleaved repeat by repeat (``compare``),
so a disturbance hits every contender alike. Every repeat runs ``calls`` operations over a
fresh batch of inputs (so "new context each call" holds across repeats too), timed with
``perf_counter_ns`` around the whole batch; the per-operation time is the batch time divided
by ``calls``. The garbage collector is collected before each repeat and left enabled, as it
is in a web process.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    median_ns: float
    best_ns: float
    repeats: int
    calls: int

    @property
    def median_us(self) -> float:
        return self.median_ns / 1000.0

    @property
    def best_us(self) -> float:
        return self.best_ns / 1000.0


@dataclass(frozen=True)
class Plan:
    """How many repeats and calls per repeat; ``--quick`` shrinks both."""

    repeats: int
    calls: int

    def scaled(self, factor: float) -> Plan:
        return Plan(self.repeats, max(10, int(self.calls * factor)))


def measure(
    batch: Callable[[Sequence[T]], object],
    inputs: Callable[[int, int], Sequence[T]],
    plan: Plan,
    warmup: bool = True,
) -> Timing:
    """``inputs(repeat, calls)`` builds a repeat's inputs outside the timed region."""
    if warmup:
        batch(inputs(-1, min(plan.calls, 200)))
    samples: list[float] = []
    for repeat in range(plan.repeats):
        data = inputs(repeat, plan.calls)
        gc.collect()
        start = time.perf_counter_ns()
        batch(data)
        samples.append((time.perf_counter_ns() - start) / len(data))
    return Timing(statistics.median(samples), min(samples), plan.repeats, plan.calls)


@dataclass(frozen=True)
class Case:
    batch: Callable[[Sequence[Any]], object]
    inputs: Callable[[int, int], Sequence[Any]]


def compare(cases: dict[str, Case], plan: Plan) -> dict[str, Timing]:
    """Interleave the cases' repeats (rotating the order) and time each like ``measure``."""
    for case in cases.values():
        case.batch(case.inputs(-1, min(plan.calls, 200)))
    samples: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for repeat in range(plan.repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            case = cases[name]
            data = case.inputs(repeat, plan.calls)
            gc.collect()
            start = time.perf_counter_ns()
            case.batch(data)
            samples[name].append((time.perf_counter_ns() - start) / len(data))
    return {
        name: Timing(statistics.median(s), min(s), plan.repeats, plan.calls)
        for name, s in samples.items()
    }


class IdSource:
    """Globally fresh actor ids: no two repeats (or operations) ever share a context."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.next = 0

    def __call__(self, repeat: int, calls: int) -> list[str]:
        start = self.next
        self.next += calls
        return [f"{self.prefix}{i}" for i in range(start, start + calls)]
