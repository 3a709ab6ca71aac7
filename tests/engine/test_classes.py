"""Code-defined experiment classes: one test per gitlab-experiment README behaviour.

Admin rows are real (``make_experiment``), the store is the configured cache store, and events
are captured with the testing package's EventCapture (what the pytest plugin's fixture uses).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from django_experiments import (
    BehaviorMissingError,
    ExistingBehaviorError,
    Experiment,
    ExperimentError,
    UnregisteredExperimentError,
    after_run,
    around_run,
    before_run,
    candidate,
    control,
    exclude,
    experiment,
    register,
    segment,
    variant,
)
from django_experiments.engine.context import key_for
from django_experiments.engine.registry import registered
from django_experiments.engine.scope import Scope, activate
from django_experiments.engine.stores import get_store
from django_experiments.testing import EventCapture, isolated_registry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _registry() -> Iterator[None]:
    with isolated_registry():
        yield


@pytest.fixture
def events() -> Iterator[EventCapture]:
    with EventCapture() as capture:
        yield capture


def stored(name: str, key: str) -> str | None:
    return get_store().get(name, key)


# --- exclusion ------------------------------------------------------------------------------


def test_exclusion_rules_run_in_order_and_the_first_match_wins(
    make_experiment: Any, events: EventCapture
) -> None:
    make_experiment("cta", control=1, candidate=1)
    calls: list[str] = []

    @register
    class Cta(Experiment):
        name = "cta"

        @exclude
        def not_first(self) -> bool:
            calls.append("not_first")
            return False

        @exclude
        def bots(self) -> bool:
            calls.append("bots")
            return self.context.actor.startswith("bot")

        @exclude
        def never_reached_for_bots(self) -> bool:
            calls.append("third")
            return False

    exp = experiment("cta", actor="bot-1")
    assert exp.assigned.name == "control"
    assert exp.excluded is True
    assert calls == ["not_first", "bots"]
    assert exp.run() == "control"
    exp.track("clicked")
    assert events.events == []  # excluded: neither the assignment nor the event
    assert stored("cta", exp.context.key) is None  # exclusion is not stored

    calls.clear()
    human = experiment("cta", actor="human-1")
    assert human.excluded is False
    assert calls == ["not_first", "bots", "third"]


def test_inline_exclusion_runs_after_class_rules(make_experiment: Any) -> None:
    make_experiment("cta")
    calls: list[str] = []

    @register
    class Cta(Experiment):
        name = "cta"

        @exclude
        def class_rule(self) -> bool:
            calls.append("class")
            return False

    exp = experiment("cta", actor="u1").exclude(lambda e: calls.append("inline") or True)
    assert exp.excluded
    assert calls == ["class", "inline"]
    assert experiment("cta", actor="u2").exclude().assigned.name == "control"
    assert experiment("cta", actor="u3").exclude(False).excluded is False


def test_inline_exclusion_after_resolution_is_an_error(make_experiment: Any) -> None:
    make_experiment("cta")
    exp = experiment("cta", actor="u1")
    exp.assigned  # noqa: B018
    with pytest.raises(ExperimentError, match="must come before its variant is resolved"):
        exp.exclude()


# --- segmentation ---------------------------------------------------------------------------


def test_segmentation_first_match_wins_and_is_stored(make_experiment: Any) -> None:
    make_experiment("cta", control=1, red=0, blue=0)

    @register
    class Cta(Experiment):
        name = "cta"

        @segment("red")
        def vip(self) -> bool:
            return self.context.actor.startswith("vip")

        @segment("blue")
        def everyone_else_too(self) -> bool:
            return True

    vip = experiment("cta", actor="vip-1")
    assert vip.assigned.name == "red"  # both match: the first declared wins
    assert stored("cta", vip.context.key) == "red"
    assert experiment("cta", actor="other").assigned.name == "blue"

    # Stored: once the rule no longer applies, the context keeps its segment.
    Cta._class_segments = ()
    assert experiment("cta", actor="vip-1").assigned.name == "red"


def test_segment_into_a_variant_the_admin_row_lacks_is_skipped(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=0)

    @register
    class Cta(Experiment):
        name = "cta"

        @segment("gone")
        def first(self) -> bool:
            return True

        @segment("candidate")
        def second(self) -> bool:
            return True

    assert experiment("cta", actor="u").assigned.name == "candidate"


def test_inline_segment_after_class_segments(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=0)
    exp = experiment("cta", actor="u").segment(lambda e: True, "candidate")
    assert exp.assigned.name == "candidate"
    assert stored("cta", exp.context.key) == "candidate"


# --- callbacks ------------------------------------------------------------------------------


def test_run_callbacks_order_before_around_after(make_experiment: Any) -> None:
    make_experiment("cta", control=1)
    calls: list[str] = []

    @register
    class Cta(Experiment):
        name = "cta"

        @control
        def show(self) -> str:
            calls.append("behaviour")
            return "shown"

        @before_run
        def first_before(self) -> None:
            calls.append("before 1")

        @before_run
        def second_before(self) -> None:
            calls.append("before 2")

        @around_run
        def outer(self, run: Any) -> Any:
            calls.append("around outer in")
            result = run()
            calls.append("around outer out")
            return f"<{result}>"

        @around_run
        def inner(self, run: Any) -> Any:
            calls.append("around inner in")
            result = run()
            calls.append("around inner out")
            return result

        @after_run
        def first_after(self) -> None:
            calls.append("after 1")

        @after_run
        def second_after(self) -> None:
            calls.append("after 2")

    assert experiment("cta", actor="u").run() == "<shown>"
    assert calls == [
        "before 1",
        "before 2",
        "around outer in",
        "around inner in",
        "behaviour",
        "around inner out",
        "around outer out",
        "after 1",
        "after 2",
    ]


def test_callbacks_are_skipped_when_excluded_or_disabled(make_experiment: Any) -> None:
    make_experiment("cta", control=1)
    make_experiment("off", status="draft", control=1)
    calls: list[str] = []

    class Base(Experiment):
        @control
        def show(self) -> str:
            return "control"

        @before_run
        def hook(self) -> None:
            calls.append(self.name)

        @exclude
        def bots(self) -> bool:
            return self.context.actor == "bot"

    register(type("Cta", (Base,), {"name": "cta"}))
    register(type("Off", (Base,), {"name": "off"}))

    assert experiment("cta", actor="bot").run() == "control"
    assert experiment("off", actor="human").run() == "control"
    assert calls == []
    experiment("cta", actor="human").run()
    assert calls == ["cta"]


def test_subclasses_inherit_and_extend_rules() -> None:
    class Base(Experiment):
        @control
        def show(self) -> str:
            return "base"

        @exclude
        def rule(self) -> bool:
            return False

    class Child(Base):
        name = "child"

        def rule(self) -> bool:  # undecorated override: still the exclusion rule
            return True

        @candidate
        def new(self) -> str:
            return "new"

    assert set(Child._class_behaviors) == {"control", "candidate"}
    assert Child(actor="u")._is_excluded() is True


def test_two_behaviours_for_one_variant_in_a_class_body_raise() -> None:
    with pytest.raises(ExistingBehaviorError, match="two behaviours for the 'control'"):

        class Twice(Experiment):
            @control
            def a(self) -> None: ...

            @variant("control")
            def b(self) -> None: ...


# --- only_assigned --------------------------------------------------------------------------


def test_only_assigned_with_stored_control_is_tracked(
    make_experiment: Any, events: EventCapture
) -> None:
    make_experiment("cta", control=1, candidate=0)
    first = experiment("cta", actor="u")
    assert first.assigned.name == "control"
    assert stored("cta", first.context.key) == "control"  # control is stored (1.5 semantics)
    events.clear()

    later = experiment("cta", actor="u", only_assigned=True)
    assert later.assigned.name == "control"
    assert later.excluded is False
    later.run()
    later.track("clicked")
    assert [e["event"] for e in events.events] == ["assignment", "clicked"]


def test_only_assigned_without_stored_variant_is_control_untracked_unstored(
    make_experiment: Any, events: EventCapture
) -> None:
    make_experiment("cta", control=0, candidate=1)
    exp = experiment("cta", actor="new", only_assigned=True)
    assert exp.assigned.name == "control"
    assert exp.excluded is True
    exp.run()
    exp.track("clicked")
    assert events.events == []
    assert stored("cta", exp.context.key) is None
    # The rollout would have given candidate: only_assigned did not widen the experiment.
    assert experiment("cta", actor="new").assigned.name == "candidate"


# --- context: migrations and sticky_to ------------------------------------------------------


def test_migrated_with_merges_and_moves_the_stored_value(make_experiment: Any) -> None:
    make_experiment("cta", control=0, candidate=1)
    old = experiment("cta", actor="u", version=1)
    assert old.assigned.name == "candidate"
    old_key = old.context.key

    make_experiment("other", control=1)  # noise: other experiments are untouched
    new = experiment("cta", actor="u", version=2, migrated_with={"version": 1})
    assert new.context.migration_keys == [old_key]
    assert new.signature["migration_keys"] == [old_key]
    assert new.signature["key"] != old_key
    # Weights now say control for everyone new, yet the migrated context keeps candidate.
    from django_experiments.models import Treatment

    Treatment.objects.filter(name="candidate").update(weight=0)
    Treatment.objects.filter(experiment__name="cta", name="control").update(weight=1)
    from django_experiments.engine import definitions

    definitions.invalidate()
    assert new.assigned.name == "candidate"
    assert stored("cta", new.context.key) == "candidate"
    assert stored("cta", old_key) is None  # the old key's value moved


def test_migration_moves_the_value_in_redis(make_experiment: Any, redis_store: Any) -> None:
    make_experiment("cta", control=0, candidate=1)
    old_key = experiment("cta", actor="u", version=1).context.key
    get_store().set("cta", old_key, "control")  # what the old context had been given
    new = experiment("cta", actor="u", version=2, migrated_with={"version": 1})
    assert new.assigned.name == "control"  # the rollout alone would say candidate
    assert redis_store.hget("glex:cta", new.context.key) == b"control"
    assert redis_store.hget("glex:cta", old_key) is None


def test_migrated_from_is_a_full_replacement(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1)
    first = experiment("cta", actor="u")
    variant_before = first.assigned.name
    added = experiment("cta", actor="u", version=1, migrated_from={"actor": "u"})
    assert added.context.migration_keys == [key_for("cta", {"actor": "u"})]
    assert added.assigned.name == variant_before
    assert stored("cta", first.context.key) is None
    assert stored("cta", added.context.key) == variant_before


def test_sticky_to_makes_the_assignment_follow_that_value(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1)
    project = "project-7"
    a = experiment("cta", actor="alice", project=project, sticky_to=project)
    b = experiment("cta", actor="bob", project=project, sticky_to=project)
    assert a.context.key == b.context.key == key_for("cta", project)
    assert a.assigned.name == b.assigned.name
    assert experiment("cta", actor="alice", project=project).context.key != a.context.key


# --- manual assignment and inline overrides ------------------------------------------------


def test_manual_assignment_is_stored_and_sticky(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=0)
    assert experiment("cta", "candidate", actor="u").run() == "candidate"
    assert experiment("cta", actor="u").assigned.name == "candidate"
    # Manually assigning control sticks as well.
    make_experiment("pill", control=0, red=1)
    assert experiment("pill", "control", actor="u").assigned.name == "control"
    assert experiment("pill", actor="u").assigned.name == "control"


def test_run_with_a_variant_assigns_manually(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=0)
    assert experiment("cta", actor="u").run("candidate") == "candidate"
    assert experiment("cta", actor="u").assigned.name == "candidate"


def test_inline_behaviours_override_the_class(make_experiment: Any) -> None:
    make_experiment("cta", control=0, candidate=1)

    @register
    class Cta(Experiment):
        name = "cta"

        @control
        def old(self) -> str:
            return "class control"

        @candidate
        def new(self) -> str:
            return "class candidate"

    assert experiment("cta", actor="u").run() == "class candidate"
    assert experiment("cta", actor="u").on("candidate", lambda: "inline").run() == "inline"
    assert experiment("cta", actor="u").run(candidate=lambda: "kwarg") == "kwarg"

    exp = experiment("cta", actor="u")

    @exp.on("candidate")
    def decorated() -> str:
        return "decorated"

    assert exp.run() == "decorated"
    assert exp.behaviors["control"]() == "class control"


def test_inline_overrides_stay_at_their_call_site_within_a_request(make_experiment: Any) -> None:
    make_experiment("cta", control=0, candidate=1)

    @register
    class Cta(Experiment):
        name = "cta"

        @candidate
        def new(self) -> str:
            return "class"

        @control
        def old(self) -> str:
            return "control"

    with activate(Scope(deferring=True)):
        first = experiment("cta", actor="u")
        assert first.on("candidate", lambda: "inline").run() == "inline"
        second = experiment("cta", actor="u")
        assert second is not first
        assert second.run() == "class"
        # An inline exclusion at one call site does not exclude the others.
        assert experiment("cta", actor="u2").exclude().excluded is True
        assert experiment("cta", actor="u2").excluded is False


def test_missing_behaviour_names_the_variant(make_experiment: Any) -> None:
    make_experiment("cta", control=0, red=1)

    @register
    class Cta(Experiment):
        name = "cta"

        @control
        def old(self) -> str:
            return "control"

    with pytest.raises(BehaviorMissingError) as info:
        experiment("cta", actor="u").run()
    message = str(info.value)
    assert "'red' variant of experiment 'cta' has no behaviour" in message
    assert "registered: 'control'" in message
    assert "@variant('red')" in message


def test_no_behaviours_at_all_runs_to_the_variant_name(make_experiment: Any) -> None:
    make_experiment("cta", control=0, candidate=1)
    assert experiment("cta", actor="u").run() == "candidate"


# --- enabled() and rollout ----------------------------------------------------------------


def test_enabled_override_is_the_first_exit(make_experiment: Any, events: EventCapture) -> None:
    make_experiment("cta", control=0, candidate=1)
    calls: list[str] = []

    @register
    class Cta(Experiment):
        name = "cta"

        def enabled(self) -> bool:  # type: ignore[override]
            calls.append("enabled")
            return self.context.actor != "off"

        @exclude
        def rule(self) -> bool:
            calls.append("exclude")
            return False

    exp = experiment("cta", actor="off")
    assert exp.enabled is False
    assert exp.run() == "control"
    assert calls == ["enabled"]  # rules never ran; asked once
    assert events.events == []
    assert experiment("cta", actor="on").assigned.name == "candidate"


def test_percent_distribution_overrides_admin_weights_only_when_declared(
    make_experiment: Any,
) -> None:
    from django_experiments import Percent

    make_experiment("plain", control=1, candidate=0)
    make_experiment("declared", control=1, candidate=0)

    @register
    class Plain(Experiment):
        name = "plain"
        rollout = Percent()

    @register
    class Declared(Experiment):
        name = "declared"
        rollout = Percent(distribution={"control": 0, "candidate": 100})

    actors = [f"user-{i}" for i in range(50)]
    assert {experiment("plain", actor=a).assigned.name for a in actors} == {"control"}
    assert {experiment("declared", actor=a).assigned.name for a in actors} == {"candidate"}


def test_distribution_naming_an_unknown_variant_falls_back_to_control(
    make_experiment: Any,
) -> None:
    from django_experiments import Percent

    make_experiment("cta", control=1, candidate=1)

    @register
    class Cta(Experiment):
        name = "cta"
        rollout = Percent(distribution={"ghost": 100})

    exp = experiment("cta", actor="u")
    assert exp.assigned.name == "control"
    assert stored("cta", exp.context.key) == "control"


def test_random_and_round_robin_rollouts(make_experiment: Any) -> None:
    make_experiment("rand", control=1, candidate=1)
    make_experiment("rr", control=1, red=1, blue=1)

    @register
    class Rand(Experiment):
        name = "rand"
        rollout = "random"

    @register
    class RR(Experiment):
        name = "rr"
        rollout = "round_robin"

    names = {experiment("rand", actor=f"u{i}").assigned.name for i in range(60)}
    assert names == {"control", "candidate"}
    sequence = [experiment("rr", actor=f"u{i}").assigned.name for i in range(6)]
    assert sequence == ["control", "red", "blue", "control", "red", "blue"]
    # Sticky once stored.
    assert experiment("rr", actor="u0").assigned.name == "control"


def test_custom_rollout_class_decides_enabled_and_variant(make_experiment: Any) -> None:
    from django_experiments import Rollout

    make_experiment("cta", control=1, candidate=1)

    class OnlyEvenUsers(Rollout):
        def enabled(self, experiment: Experiment) -> bool:
            return int(experiment.context.actor[-1]) % 2 == 0

        def resolve(self, experiment: Experiment) -> str | None:
            return "candidate"

    @register
    class Cta(Experiment):
        name = "cta"
        rollout = OnlyEvenUsers

    assert experiment("cta", actor="u2").assigned.name == "candidate"
    odd = experiment("cta", actor="u3")
    assert odd.enabled is False
    assert odd.assigned.name == "control"


# --- registration and names ----------------------------------------------------------------


def test_strict_registration_message_tells_how_to_register(settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "STRICT_REGISTRATION": True}

    @register
    class Known(Experiment):
        name = "known"

    assert type(experiment("known", actor="u")) is Known
    with pytest.raises(UnregisteredExperimentError) as info:
        experiment("signup_cta", actor="u")
    message = str(info.value)
    assert "No experiment class is registered for 'signup_cta'" in message
    assert "STRICT_REGISTRATION is on" in message
    assert f"(registered: {', '.join(sorted(registered()))})" in message
    assert "known" in registered()
    assert "class SignupCtaExperiment(Experiment):" in message
    assert "name = 'signup_cta'" in message
    assert "experiments.py" in message
    assert "python manage.py startexperiment signup_cta" in message


def test_registering_another_class_under_a_taken_name_raises() -> None:
    @register
    class First(Experiment):
        name = "taken"

    class Second(Experiment):
        name = "taken"

    with pytest.raises(ExperimentError, match="already registered by"):
        register(Second)
    register(First)  # the same class again (a reload) is fine


def test_name_prefix_applies_to_names_events_and_force(
    make_experiment: Any, settings: Any, events: EventCapture
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "NAME_PREFIX": "shop"}
    make_experiment("cta", control=1, candidate=0)  # the admin row keeps the bare name

    @register
    class Cta(Experiment):
        name = "cta"

    exp = experiment("cta", actor="u")
    assert type(exp) is Cta
    assert exp.name == "shop_cta"
    assert exp.base_name == "cta"
    assert exp.signature["experiment"] == "shop_cta"
    assert exp.context.key == key_for("shop_cta", {"actor": "u"})
    exp.run()
    assert events.events[0]["experiment"] == "shop_cta"
    # A prefixed name finds the same class and row.
    assert type(experiment("shop_cta", actor="u")) is Cta
    # glex_force names the full experiment name.
    with activate(Scope(forced={"shop_cta": "candidate"})):
        assert experiment("cta", actor="forced").assigned.name == "candidate"
    with activate(Scope(forced={"cta": "candidate"})):
        assert experiment("cta", actor="not-forced").assigned.name == "control"


def test_forced_assignment_overwrites_stored_but_not_disabled(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=0)
    make_experiment("off", status="draft", control=1, candidate=0)
    assert experiment("cta", actor="u").assigned.name == "control"
    with activate(Scope(forced={"cta": "candidate", "off": "candidate"})):
        assert experiment("cta", actor="u").assigned.name == "candidate"
        assert experiment("off", actor="u").assigned.name == "control"
    assert experiment("cta", actor="u").assigned.name == "candidate"


def test_request_memo_resolves_once(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=0)
    with activate(Scope(deferring=True)) as scope:
        first = experiment("cta", actor="u")
        assert first.assigned.name == "control"
        # Change the store behind the memo's back: a second read would see candidate.
        get_store().set("cta", first.context.key, "candidate")
        again = experiment("cta", actor="u")
        assert again is not first
        assert again.assigned.name == "control"
        assert len(scope.memo) == 1
    assert experiment("cta", actor="u").assigned.name == "candidate"
