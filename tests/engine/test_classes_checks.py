"""The system check comparing code-defined classes with their admin rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core import checks

from django_experiments import Experiment, Percent, candidate, control, register, segment, variant
from django_experiments.class_checks import check_experiment_classes, problems_for
from django_experiments.testing import isolated_registry


@pytest.fixture(autouse=True)
def _registry() -> Iterator[None]:
    with isolated_registry() as registry:
        registry.clear()  # only this module's classes (not the example project's)
        yield


def ids(messages: list[Any]) -> list[str]:
    return sorted(m.id for m in messages)


@pytest.mark.django_db
def test_consistent_class_and_row_report_nothing(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1)

    @register
    class Cta(Experiment):
        name = "cta"

        @control
        def a(self) -> str:
            return "a"

        @candidate
        def b(self) -> str:
            return "b"

    assert check_experiment_classes() == []


@pytest.mark.django_db
def test_variants_missing_on_either_side(make_experiment: Any) -> None:
    make_experiment("cta", control=1, candidate=1)

    @register
    class Cta(Experiment):
        name = "cta"

        @control
        def a(self) -> str:
            return "a"

        @variant("red")
        def b(self) -> str:
            return "b"

        @segment("blue")
        def rule(self) -> bool:
            return False

    messages = check_experiment_classes()
    assert ids(messages) == [
        "django_experiments.W101",
        "django_experiments.W102",
        "django_experiments.W103",
    ]
    text = "\n".join(m.msg for m in messages)
    assert "has behaviours for 'red', which the admin row 'cta' does not have" in text
    assert "treatments 'candidate' with no behaviour" in text
    assert "segments into 'blue'" in text
    assert all(isinstance(m, checks.Warning) and m.obj is Cta for m in messages)
    assert [p.code for p in problems_for("cta")] == ["W101", "W102", "W103"]


@pytest.mark.django_db
def test_distribution_must_match_the_row_and_a_missing_row_is_reported(
    make_experiment: Any,
) -> None:
    make_experiment("cta", control=1, candidate=1)

    @register
    class Cta(Experiment):
        name = "cta"
        rollout = Percent(distribution={"control": 50, "red": 50})

    @register
    class Orphan(Experiment):
        name = "orphan"

    messages = check_experiment_classes()
    assert ids(messages) == ["django_experiments.W104", "django_experiments.W105"]


@pytest.mark.django_db
def test_the_check_is_registered_with_django(make_experiment: Any) -> None:
    @register
    class Orphan(Experiment):
        name = "orphan"

    found = checks.run_checks(tags=["django_experiments"])
    assert "django_experiments.W105" in [m.id for m in found]


def test_no_database_access_means_no_report() -> None:
    # No django_db mark: pytest-django refuses every query, as an unmigrated or unreachable
    # database would. The check must stay quiet rather than break `manage.py check`.
    @register
    class Orphan(Experiment):
        name = "orphan"

    assert check_experiment_classes() == []
