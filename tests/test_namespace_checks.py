"""E019: a namespace saved around validation with more than 100 % allocated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_experiments import experiment
from django_experiments.engine.decision import Reason
from django_experiments.models import Experiment, Namespace
from django_experiments.namespace_checks import check_namespaces

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowded(make_experiment: Any) -> Namespace:
    namespace = Namespace.objects.create(name="crowded", holdout_percent=Decimal(10))
    for name in ("first", "second"):
        make_experiment(name)
    # Around validation: update() skips full_clean().
    Experiment.objects.update(namespace=namespace, namespace_share=Decimal(60))
    return namespace


def test_a_valid_namespace_is_silent(make_experiment: Any) -> None:
    namespace = Namespace.objects.create(name="fine", holdout_percent=Decimal(10))
    make_experiment("only")
    Experiment.objects.update(namespace=namespace, namespace_share=Decimal(90))
    assert check_namespaces() == []


def test_an_over_allocated_namespace_is_an_error(crowded: Namespace) -> None:
    (message,) = check_namespaces()
    assert message.id == "django_experiments.E019"
    assert message.obj == crowded
    assert message.msg == (
        "The ranges of namespace 'crowded' would overlap: the holdout 10 %, first 60 %, "
        "second 60 % add up to 130 % of its 100 %. Lower a share or the holdout so that they "
        "fit."
    )
    with pytest.raises(SystemCheckError, match="E019"):
        call_command("check")


def test_resolution_cuts_the_last_one_rather_than_overlap(crowded: Namespace) -> None:
    """The holdout keeps its 10 %, first its 60 %, second gets the 30 % left."""
    inside = {"first": 0, "second": 0}
    for i in range(2_000):
        for name in inside:
            reason = experiment(name, actor=f"u{i}").decision.reason
            assert reason in (Reason.ROLLOUT, Reason.NAMESPACE, Reason.HOLDOUT)
            inside[name] += reason is Reason.ROLLOUT
    assert 0.55 < inside["first"] / 2_000 < 0.65
    assert 0.25 < inside["second"] / 2_000 < 0.35


def test_no_database_no_report(crowded: Namespace, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(Namespace.objects, "prefetch_related", refuse)
    assert check_namespaces() == []
