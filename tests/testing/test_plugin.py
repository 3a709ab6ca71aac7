"""The pytest plugin and the testing helpers: each one passing, and failing with its message."""

from __future__ import annotations

import re
from typing import Any

COMMON = """
import pytest
from django.test import SimpleTestCase

from django_experiments import Experiment, control, exclude, experiment, register, segment
from django_experiments import variant
from django_experiments.testing import (
    active_stubs,
    assert_excludes,
    assert_not_excludes,
    assert_not_registers_behavior,
    assert_not_segments,
    assert_registers_behavior,
    assert_segments,
    expect_not_tracked,
    expect_tracked,
    stub_experiments as stubbed,
)


class Pill(Experiment):
    name = "pill"

    @control
    def grey(self):
        return "grey"

    @variant("red")
    def red(self):
        return "red"

    @exclude
    def bots(self):
        return str(self.context.value.get("actor", "")).startswith("bot")

    @segment("red")
    def vips(self):
        return str(self.context.value.get("actor", "")).startswith("vip")


@pytest.fixture(autouse=True)
def _pill(experiment_registry):
    register(Pill)
"""

PASSING = (
    COMMON
    + """

def test_stub_variant_as_fixture(stub_experiments):
    stub_experiments(pill="red")
    exp = experiment("pill", actor="u")
    assert exp.enabled
    assert exp.assigned.name == "red"
    assert exp.run() == "red"


def test_stub_with_assigned_satisfies_only_assigned(stub_experiments):
    stub_experiments(pill={"variant": "red", "assigned": True})
    exp = experiment("pill", actor="u", only_assigned=True)
    assert not exp.excluded
    assert exp.run() == "red"


def test_stub_without_assigned_leaves_only_assigned_excluded(stub_experiments):
    stub_experiments(pill="red")
    exp = experiment("pill", actor="u", only_assigned=True)
    assert exp.excluded
    assert exp.run() == "grey"


def test_stub_true_lets_the_rollout_decide(stub_experiments):
    stub_experiments(pill=True)
    names = {experiment("pill", actor=f"u{i}").assigned.name for i in range(60)}
    assert names == {"control", "red"}


def test_stub_false_disables(stub_experiments):
    stub_experiments(pill=False)
    exp = experiment("pill", actor="u")
    assert not exp.enabled
    assert exp.run() == "grey"


def test_stubs_keep_rules(stub_experiments):
    stub_experiments(pill="red")
    assert experiment("pill", actor="bot-1").run() == "grey"


@stubbed(pill="red")
def test_stub_as_decorator():
    assert experiment("pill", actor="u").run() == "red"


def test_stub_as_context_manager():
    with stubbed(pill="red"):
        assert experiment("pill", actor="u").run() == "red"
        with stubbed(pill=False):
            assert experiment("pill", actor="v").run() == "grey"
        assert active_stubs()["pill"].variant == "red"
    assert "pill" not in active_stubs()


def test_stub_stores_do_not_leak_between_activations():
    with stubbed(pill="red"):
        experiment("pill", actor="u").run()
    with stubbed(pill=True):
        assert experiment("pill", actor="u", only_assigned=True).excluded


@stubbed(pill="red")
class PillTestCase(SimpleTestCase):
    def test_in_a_django_testcase(self):
        self.assertEqual(experiment("pill", actor="u").run(), "red")


def test_registered_behaviors():
    assert_registers_behavior("pill", "control")
    assert_registers_behavior(Pill, "red", returns="red")
    assert_not_registers_behavior(Pill(actor="u"), "blue")


def test_exclusion_and_segmentation():
    assert_excludes("pill", actor="bot-1")
    assert_not_excludes(Pill, actor="human")
    assert_segments("pill", actor="vip-1")
    assert_segments("pill", into="red", actor="vip-1")
    assert_not_segments("pill", actor="human")


def test_tracked(stub_experiments):
    stub_experiments(pill="red")
    with expect_tracked(
        "pill", "clicked", value=1, properties={"where": "nav"}, variant="red",
        context={"actor": "u"},
    ):
        experiment("pill", actor="u").track("clicked", value=1, where="nav")


def test_tracked_on_the_instance_and_on_the_next_instance(stub_experiments):
    stub_experiments(pill="red")
    subject = experiment("pill", actor="u")
    with expect_tracked(subject, "clicked"):
        subject.track("clicked")
    with expect_tracked(subject, "clicked", on_next_instance=True):
        experiment("pill", actor="w").track("clicked")
    with expect_tracked(Pill, "clicked"):
        experiment("pill", actor="x").track("clicked")


def test_not_tracked(stub_experiments):
    stub_experiments(pill="red")
    with expect_not_tracked("pill", "clicked"):
        experiment("pill", actor="bot-1").track("clicked")  # excluded: ignored
        experiment("pill", actor="u").track("other")


def test_events_fixture_captures_instead_of_shipping(stub_experiments, experiment_events):
    from django_experiments.tracking import producer

    shipped = []
    original = producer.ship
    producer.ship = shipped.extend
    stub_experiments(pill="red")
    experiment("pill", actor="u").run()
    experiment("pill", actor="u").track("clicked", value=2)
    assert [e["event"] for e in experiment_events] == ["assignment", "clicked"]
    assert experiment_events.named("clicked", "pill")[0]["value"] == 2
    experiment_events.assert_tracked("pill", "clicked", value=2)
    experiment_events.assert_not_tracked("pill", "clicked", value=3)
    producer.ship = original
    assert shipped == []
"""
)

FAILING = (
    COMMON
    + """

def test_fail_behavior_missing():
    assert_registers_behavior("pill", "blue")


def test_fail_behavior_return():
    assert_registers_behavior("pill", "red", returns="blue")


def test_fail_behavior_registered():
    assert_not_registers_behavior("pill", "red")


def test_fail_excludes():
    assert_excludes("pill", actor="human")


def test_fail_not_excludes():
    assert_not_excludes("pill", actor="bot-1")


def test_fail_segments():
    assert_segments("pill", actor="human")


def test_fail_segments_into():
    assert_segments("pill", into="control", actor="vip-1")


def test_fail_not_segments():
    assert_not_segments("pill", actor="vip-1")


def test_fail_tracked_nothing(stub_experiments):
    stub_experiments(pill="red")
    with expect_tracked("pill", "clicked"):
        pass


def test_fail_tracked_value(stub_experiments):
    stub_experiments(pill="red")
    with expect_tracked("pill", "clicked", value=2):
        experiment("pill", actor="u").track("clicked", value=1)


def test_fail_tracked_variant(stub_experiments):
    stub_experiments(pill="red")
    with expect_tracked("pill", "clicked", variant="control"):
        experiment("pill", actor="u").track("clicked")


def test_fail_tracked_context(stub_experiments):
    stub_experiments(pill="red")
    with expect_tracked("pill", "clicked", context={"actor": "someone-else"}):
        experiment("pill", actor="u").track("clicked")


def test_fail_tracked_other_instance(stub_experiments):
    stub_experiments(pill="red")
    subject = experiment("pill", actor="u")
    with expect_tracked(subject, "clicked"):
        experiment("pill", actor="w").track("clicked")


def test_fail_not_tracked(stub_experiments):
    stub_experiments(pill="red")
    with expect_not_tracked("pill", "clicked"):
        experiment("pill", actor="u").track("clicked")


def test_fail_tracked_while_disabled(stub_experiments):
    stub_experiments(pill=False)
    with expect_tracked("pill", "clicked"):
        experiment("pill", actor="u").track("clicked")


def test_fail_events_fixture(stub_experiments, experiment_events):
    stub_experiments(pill="red")
    experiment("pill", actor="u").track("clicked", value=1)
    experiment_events.assert_tracked("pill", "clicked", properties={"a": 1})
"""
)


def expect_lines(output: str, patterns: list[str]) -> None:
    """Each pattern (``*`` is a wildcard) matches a line of ``output``, in this order."""
    lines = output.splitlines()
    position = 0
    for pattern in patterns:
        regex = re.compile(re.escape(pattern).replace(r"\*", ".*"))
        for index in range(position, len(lines)):
            if regex.search(lines[index]):
                position = index + 1
                break
        else:
            raise AssertionError(f"no line matches {pattern!r} after line {position}:\n{output}")


def test_every_helper_passes_when_the_expectation_holds(run_inner: Any) -> None:
    result = run_inner(test_passing=PASSING)
    result.assert_outcomes(passed=16)


def test_every_helper_fails_with_its_message(run_inner: Any) -> None:
    result = run_inner(test_failing=FAILING)
    result.assert_outcomes(failed=16)
    out = result.stdout.str()
    expect_lines(
        out,
        [
            "*test_fail_behavior_missing*",
            "E*AssertionError: expected the 'blue' behavior to be registered",
            "E*  behaviors: ['control', 'red']",
        ],
    )
    expect_lines(
        out,
        [
            "E*expected the 'red' behavior to be registered with a return value",
            "E*  expected return: 'blue'",
            "E*  actual return: 'red'",
        ],
    )
    expect_lines(out, ["E*expected the 'red' behavior not to be registered"])
    expect_lines(
        out,
        [
            "E*expected {actor: 'human'} to be excluded from 'pill'",
            "E*  exclusion rules: Pill.bots()",
        ],
    )
    expect_lines(
        out,
        [
            "E*expected {actor: 'bot-1'} not to be excluded from 'pill'",
            "E*  matched rule: Pill.bots()",
        ],
    )
    expect_lines(out, ["E*expected {actor: 'human'} to be segmented in 'pill'"])
    expect_lines(
        out,
        [
            "E*expected {actor: 'vip-1'} to be segmented into variant in 'pill'",
            "E*  expected variant: 'control'",
            "E*  actual variant: 'red'",
        ],
    )
    expect_lines(
        out,
        [
            "E*expected {actor: 'vip-1'} not to be segmented in 'pill'",
            "E*  actual variant: 'red'",
        ],
    )
    expect_lines(
        out,
        [
            "E*expected experiment 'pill' to have tracked 'clicked'",
            "E*  captured: nothing for this experiment",
            "E*stub_experiments({'pill': True})*",
        ],
    )
    expect_lines(
        out,
        [
            "E*expected experiment 'pill' to have tracked 'clicked'",
            "E*  expected value: 2",
            "E*  captured:",
            "E*    - 'clicked' on 'pill' (variant 'red', value 1, properties {})",
        ],
    )
    expect_lines(
        out,
        [
            "E*expected experiment 'pill' to have tracked 'clicked' for variant",
            "E*  expected variant: 'control'",
            "E*  actual variant: ['red']",
        ],
    )
    expect_lines(
        out,
        [
            "E*expected experiment 'pill' to have tracked 'clicked' with context",
            "E*  expected context: {'actor': 'someone-else'}",
            "E*  actual context: [{'actor': 'u'}]",
        ],
    )
    expect_lines(out, ["E*expected <Pill pill key=*> to have tracked 'clicked'"])
    expect_lines(out, ["E*expected experiment 'pill' not to have tracked 'clicked'"])
    expect_lines(
        out,
        [
            "E*expected experiment 'pill' to have tracked 'clicked'",
            "E*'clicked' on 'pill' (variant 'control', *) [ignored: the experiment is not enabled]",
        ],
    )
    expect_lines(out, ["E*  expected properties: {'a': 1}"])


def test_bad_stub_specs_are_rejected(run_inner: Any) -> None:
    result = run_inner(
        test_specs=COMMON
        + """

def test_unknown_option():
    with pytest.raises(TypeError, match="unknown option"):
        stubbed(pill={"variant": "red", "sticky": True})


def test_wrong_type():
    with pytest.raises(TypeError, match="expected a variant name"):
        stubbed(pill=3)


def test_nothing_to_stub():
    with pytest.raises(TypeError, match="at least one experiment"):
        stubbed()


def test_negated_tracking_rejects_variant():
    from django_experiments.testing import TrackExpectation

    with pytest.raises(ValueError, match="cannot give variant"):
        TrackExpectation("pill", "clicked", negated=True, variant="red")
"""
    )
    result.assert_outcomes(passed=4)
