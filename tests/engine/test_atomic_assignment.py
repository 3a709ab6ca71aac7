"""First assignments are atomic: concurrent first resolutions of one context agree.

100 threads resolve the same 20 brand-new contexts at once, for each rollout (percent, random,
round robin, a segment rule, a custom rollout) on the Redis store and on a Django cache store
backed by Redis. Every thread must get the variant that ended up stored.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from typing import Any

import pytest

from django_experiments import Experiment, Rollout, experiment, register, segment
from django_experiments.engine.context import key_for
from django_experiments.engine.definitions import get_definition
from django_experiments.engine.stores import get_store

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 100
CONTEXTS = 20


class CoinFlip(Rollout):
    """A custom, non-deterministic rollout."""

    deterministic = False

    def resolve(self, experiment: Experiment) -> str | None:
        return random.choice(experiment.definition.variant_names)  # type: ignore[union-attr]


def run_concurrently(name: str) -> dict[str, set[str]]:
    """Every thread resolves every context; returns the variants seen per context."""
    seen: dict[str, set[str]] = defaultdict(set)
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            mine = {
                f"ctx-{i}": experiment(name, actor=f"ctx-{i}").assigned.name
                for i in range(CONTEXTS)
            }
            with lock:
                for context, variant in mine.items():
                    seen[context].add(variant)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return seen


@pytest.fixture(params=["redis", "cache"])
def store_kind(request: Any, redis_store: Any, settings: Any) -> str:
    if request.param == "cache":
        settings.DJANGO_EXPERIMENTS = {
            **settings.DJANGO_EXPERIMENTS,
            "STORE": "cache",
            "STORE_ALIAS": "redis",
        }
    return str(request.param)


@pytest.mark.parametrize("rollout", ["percent", "random", "round_robin", "segment", "custom"])
def test_concurrent_first_assignments_agree(
    store_kind: str, rollout: str, make_experiment: Any, settings: Any, experiment_registry: Any
) -> None:
    make_experiment("cta", control=1, b=1, c=1, d=1)
    if rollout in ("random", "round_robin"):
        settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "DEFAULT_ROLLOUT": rollout}
    elif rollout == "segment":

        @register
        class Segmented(Experiment):
            name = "cta"
            rollout = "random"

            @segment("d")
            def coin(self) -> bool:
                return random.random() < 0.5

    elif rollout == "custom":

        @register
        class Custom(Experiment):
            name = "cta"
            rollout = CoinFlip

    seen = run_concurrently("cta")
    definition = get_definition("cta")
    assert definition is not None
    store = get_store()
    disagreements = 0
    for context, variants in seen.items():
        stored = store.get(definition.store_name, key_for("cta", {"actor": context}))
        if variants != {stored}:
            disagreements += 1
    assert len(seen) == CONTEXTS
    assert disagreements == 0, f"{disagreements} of {CONTEXTS} contexts disagreed"
