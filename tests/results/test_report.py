"""The report's summary: who leads, the verdict, options parsing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from django_experiments.models import Experiment, Phase
from django_experiments.results import results_for
from django_experiments.results.report import Options, ResultsError
from tests.results.conftest import event

Store = Callable[[list[dict[str, Any]]], None]


def traffic(store: Store, at: datetime, rates: dict[str, int], n: int = 200) -> None:
    batch = []
    for variant, every in rates.items():
        for i in range(n):
            batch.append(event("assignment", f"{variant}{i}", variant, at=at))
            if i % every == 0:
                batch.append(event("signup", f"{variant}{i}", variant, at=at))
    store(batch)


@pytest.fixture
def three(make_experiment: Any, minutes: Callable[[float], datetime]) -> Experiment:
    exp: Experiment = make_experiment("cta", control=1, b=1, c=1)
    Phase.objects.filter(experiment=exp).delete()
    Phase.objects.create(
        experiment=exp,
        number=1,
        reason="created",
        salt="s",
        started_at=minutes(0),
        weights={"control": "1", "b": "1", "c": "1"},
    )
    return exp


def test_control_leads_when_every_treatment_is_worse(
    three: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    traffic(store, minutes(5), {"control": 2, "b": 4, "c": 5})
    (line,) = results_for(three).summary()
    assert line["leader"] == "control"
    assert line["best_treatment"] == "b"
    assert line["chance_to_win"] < 0.5
    assert line["verdict"].startswith("b is worse than control")


def test_best_treatment_leads_and_holm_adjusts_with_three_arms(
    three: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    traffic(store, minutes(5), {"control": 4, "b": 2, "c": 4})
    report = results_for(three)
    (line,) = report.summary()
    assert line["leader"] == "b" and line["significant"]
    rows = {r.variant: r.comparison for r in report.metrics[0].rows}
    assert rows["control"] is None
    b, c = rows["b"], rows["c"]
    assert b is not None and c is not None and b.p_value is not None and c.p_value is not None
    # Holm: the smallest of two p-values is doubled, the other at least kept.
    assert b.adjusted_p_value == pytest.approx(min(1.0, 2 * b.p_value))
    unadjusted = results_for(three, options=Options(correction="none")).metrics[0].rows
    assert unadjusted[1].comparison is not None
    assert unadjusted[1].comparison.adjusted_p_value == pytest.approx(b.p_value)


def test_options_parse() -> None:
    assert Options.parse({}) == Options()
    assert Options.parse({"alpha": "0.1", "correction": "none", "sequential": "5000"}) == (
        Options(0.1, "none", 5000.0)
    )
    for bad in ({"alpha": "0"}, {"alpha": "nan"}, {"sequential": "inf"}, {"correction": "x"}):
        with pytest.raises(ResultsError):
            Options.parse(bad)
