"""Rollout strategies: percent (default), random, round robin, custom; Percent(distribution)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from scipy.stats import binomtest

from django_experiments import Experiment, Percent, Random, Rollout, RoundRobin, experiment
from django_experiments.engine.context import key_for
from django_experiments.engine.definitions import get_definition
from django_experiments.engine.registry import register, unregister
from django_experiments.engine.rollout import resolve_rollout
from django_experiments.engine.stores import COUNTER_FIELD


class AlwaysLast(Rollout):
    """Importable by dotted path: the last treatment with a positive weight."""

    def resolve(self, experiment: Experiment) -> str | None:
        return self.candidates(experiment)[-1][0]


class Closed(Rollout):
    def enabled(self, experiment: Experiment) -> bool:
        return False

    def resolve(self, experiment: Experiment) -> str | None:  # pragma: no cover - never asked
        raise AssertionError("a disabled rollout is never asked to resolve")


class Nonsense(Rollout):
    def resolve(self, experiment: Experiment) -> str | None:
        return "not-a-variant"


def _with(rollout: Any, name: str = "cta") -> type[Experiment]:
    return type("Exp", (Experiment,), {"name": name, "rollout": rollout})


def test_builtin_names_and_specs() -> None:
    assert isinstance(resolve_rollout(None), Percent)
    assert isinstance(resolve_rollout(None, "random"), Random)
    assert isinstance(resolve_rollout("round_robin"), RoundRobin)
    assert isinstance(resolve_rollout(RoundRobin), RoundRobin)
    instance = Percent()
    assert resolve_rollout(instance) is instance
    assert isinstance(resolve_rollout("tests.engine.test_rollout.AlwaysLast"), AlwaysLast)
    with pytest.raises(TypeError):
        resolve_rollout(int)  # type: ignore[arg-type]
    with pytest.raises(ImportError):
        resolve_rollout("no.such.Rollout")


def test_percent_is_the_default(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=3)
    definition = get_definition("cta")
    assert definition is not None
    for i in range(50):
        exp = experiment("cta", actor=f"u{i}")
        assert isinstance(exp.rollout_strategy, Percent)
        treatment = definition.treatment_for_key(key_for("cta", {"actor": f"u{i}"}))
        assert treatment is not None and exp.assigned.name == treatment.name


def test_default_rollout_setting_is_followed(make_experiment: Any, settings: Any) -> None:
    make_experiment("cta", control=1, candidate=1, third=1)
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "DEFAULT_ROLLOUT": "round_robin"}
    names = [experiment("cta", actor=f"u{i}").assigned.name for i in range(6)]
    assert names == ["control", "candidate", "third"] * 2


def test_percent_distribution_overrides_admin_weights(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1)
    cls = _with(Percent(distribution={"control": 10, "candidate": 90}))
    n = 4000
    counts = Counter(cls(actor=f"u{i}").assigned.name for i in range(n))
    assert binomtest(counts["candidate"], n, 0.9).pvalue > 0.001
    # Deterministic in the same slot space: same context, same answer, no store needed.
    assert cls(actor="u1").assigned.name == cls(actor="u1").assigned.name


def test_percent_distribution_with_unknown_variant_falls_back_to_control(
    make_experiment: Any,
) -> None:
    make_experiment("cta", control=1, candidate=1)
    cls = _with(Percent(distribution={"ghost": 1}))
    assert {cls(actor=f"u{i}").assigned.name for i in range(20)} == {"control"}


def test_random_follows_weights_and_sticks(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=3, off=0)
    cls = _with(Random)
    # Sticky once stored, whatever the next draw would be. (Few contexts: the locmem cache of
    # the test settings culls past its default MAX_ENTRIES of 300.)
    first = {f"s{i}": cls(actor=f"s{i}").assigned.name for i in range(100)}
    assert {u: cls(actor=u).assigned.name for u in first} == first
    n = 2000
    counts = Counter(cls(actor=f"u{i}").assigned.name for i in range(n))
    assert counts["off"] == 0
    assert binomtest(counts["candidate"], n, 0.75).pvalue > 0.001


def test_round_robin_cycles_with_a_redis_counter(redis_store: Any, make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1, third=1, off=0)
    cls = _with("round_robin")
    names = [cls(actor=f"u{i}").assigned.name for i in range(7)]
    assert names == ["control", "candidate", "third", "control", "candidate", "third", "control"]
    assert redis_store.hget("glex:cta:attrs", COUNTER_FIELD) == b"7"
    # A returning context keeps its variant and does not move the counter.
    assert cls(actor="u1").assigned.name == "candidate"
    assert redis_store.hget("glex:cta:attrs", COUNTER_FIELD) == b"7"


def test_round_robin_on_the_cache_store(make_experiment: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STORE": "cache"}
    make_experiment("cta", control=1, candidate=1)
    cls = _with(RoundRobin)
    assert [cls(actor=f"u{i}").assigned.name for i in range(4)] == [
        "control",
        "candidate",
        "control",
        "candidate",
    ]


def test_custom_rollout_by_dotted_path_and_by_class(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1, last=1)
    by_path = _with("tests.engine.test_rollout.AlwaysLast")
    by_class = _with(AlwaysLast)
    assert {by_path(actor=f"u{i}").assigned.name for i in range(10)} == {"last"}
    assert {by_class(actor=f"v{i}").assigned.name for i in range(10)} == {"last"}


def test_custom_rollout_can_disable(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1)
    exp = _with(Closed)(actor="u1")
    assert not exp.enabled and not exp.should_track
    assert exp.assigned.name == "control"


def test_custom_rollout_returning_garbage_gives_control(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1)
    assert {_with(Nonsense)(actor=f"u{i}").assigned.name for i in range(10)} == {"control"}


def test_registered_class_is_used_by_experiment(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1, last=1)
    cls = register(_with(AlwaysLast))
    try:
        exp = experiment("cta", actor="u1")
        assert isinstance(exp, cls)
        assert exp.assigned.name == "last"
    finally:
        unregister("cta")


#: A configured instance, importable by dotted path.
NINETY_TEN = Percent(distribution={"control": 90, "candidate": 10})


def test_dotted_path_may_name_a_configured_instance() -> None:
    assert resolve_rollout("tests.engine.test_rollout.NINETY_TEN") is NINETY_TEN
