"""The holdout against everyone else: flagged exposures roll up apart, stay out of the
per-variant analysis and the SRM test, and are compared with the rest on every metric."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from django_experiments.models import Experiment, Phase
from django_experiments.results import results_for
from django_experiments.results.rollup import HOLDOUT_VARIANT
from django_experiments.results.srm import current_srm_p_value
from django_experiments.tracking.models import ContextExposure
from tests.results.conftest import event

Store = Callable[[list[dict[str, Any]]], None]


@pytest.fixture
def held(make_experiment: Any, minutes: Callable[[float], datetime]) -> Experiment:
    exp: Experiment = make_experiment("cta", control=1, b=1)
    Phase.objects.filter(experiment=exp).delete()
    Phase.objects.create(
        experiment=exp,
        number=1,
        reason="created",
        salt="s",
        started_at=minutes(0),
        weights={"control": "1", "b": "1"},
        population={"global_holdout": "10"},
    )
    return exp


def traffic(store: Store, at: datetime, n: int, every: dict[str, int]) -> dict[str, list[int]]:
    """``n`` contexts per group; one in ``every[group]`` converts. The holdout's exposures are
    flagged (its served variant is control). Returns each group's 0/1 outcomes."""
    batch, outcomes = [], {}
    for group, k in every.items():
        variant = "control" if group == "holdout" else group
        outcomes[group] = []
        for i in range(n):
            key = f"{group}{i}"
            batch.append(
                event("assignment", key, variant, at=at, phase=1, holdout=group == "holdout")
            )
            converted = i % k == 0
            if converted:
                batch.append(
                    event("signup", key, variant, at=at, phase=1, holdout=group == "holdout")
                )
            outcomes[group].append(int(converted))
    store(batch)
    return outcomes


def test_holdout_is_rolled_up_apart_and_compared_with_everyone_else(
    held: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    outcomes = traffic(store, minutes(5), 400, {"control": 4, "b": 3, "holdout": 5})
    assert ContextExposure.objects.filter(variant=HOLDOUT_VARIANT).count() == 400
    report = results_for(held)
    # The variants' analysis never sees the holdout (control is not 800 strong).
    assert {v.name: v.exposed for v in report.variants} == {"control": 400, "b": 400}
    assert report.srm_p_value == pytest.approx(1.0)
    assert report.holdout is not None
    assert (report.holdout.exposed, report.holdout.rest_exposed) == (400, 800)
    (metric,) = report.holdout.metrics
    assert metric.holdout_mean == pytest.approx(80 / 400)
    assert metric.rest_mean == pytest.approx((100 + 134) / 800)
    # Welch's interval of the difference, as statsmodels computes it from the raw outcomes.
    rest = np.array(outcomes["control"] + outcomes["b"], dtype=float)
    holdout = np.array(outcomes["holdout"], dtype=float)
    compared = CompareMeans(DescrStatsW(rest), DescrStatsW(holdout))
    low, high = compared.tconfint_diff(alpha=0.05, usevar="unequal")
    c = metric.comparison
    assert c.difference == pytest.approx(rest.mean() - holdout.mean())
    assert c.ci_low == pytest.approx(low, rel=5e-3) and c.ci_high == pytest.approx(high, rel=5e-3)
    p_value = compared.ttest_ind(usevar="unequal")[1]
    assert c.p_value == pytest.approx(p_value, rel=5e-2) and c.p_value < 0.001
    assert report.as_dict()["holdout"]["metrics"][0]["comparison"]["difference"] == c.difference


def test_no_holdout_section_without_a_holdout(
    make_experiment: Any, store: Store, minutes: Callable[[float], datetime]
) -> None:
    exp = make_experiment("plain")
    store([event("assignment", "k1", "control", experiment="plain", at=minutes(1))])
    assert results_for(exp).holdout is None


def test_the_page_and_json_show_the_comparison(
    admin_client: Client, held: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    traffic(store, minutes(5), 100, {"control": 4, "b": 3, "holdout": 5})
    url = reverse("admin:django_experiments_experiment_results", args=[held.pk])
    page = admin_client.get(url).content.decode()
    assert 'id="glex-holdout"' in page
    assert "100 contexts were exposed in a holdout" in page
    assert "20.00%" in page and "+9.50%" in page  # holdout rate; rest − holdout
    data = admin_client.get(
        reverse("admin:django_experiments_experiment_results_json", args=[held.pk])
    ).json()
    assert data["holdout"]["exposed"] == 100
    assert [v["name"] for v in data["variants"]] == ["control", "b"]


def test_the_csv_carries_the_holdout_rows_as_the_page_shows_them(
    admin_client: Client, held: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    import csv
    import io

    traffic(store, minutes(5), 100, {"control": 4, "b": 3, "holdout": 5})
    url = reverse("admin:django_experiments_experiment_results_csv", args=[held.pk])
    rows = list(csv.DictReader(io.StringIO(admin_client.get(url).content.decode())))
    assert [r["group"] for r in rows] == ["variant", "variant", "holdout", "everyone_else"]
    # The variants' rows never count the holdout (control is not 200 strong).
    assert [(r["variant"], r["exposed"]) for r in rows[:2]] == [("control", "100"), ("b", "100")]
    holdout, rest = rows[2], rows[3]
    assert (holdout["variant"], holdout["exposed"], rest["variant"], rest["exposed"]) == (
        ":holdout",
        "100",
        ":everyone_else",
        "200",
    )
    assert {holdout["metric"], rest["metric"]} == {"signup:binomial"}
    c = results_for(held).holdout.metrics[0].comparison  # type: ignore[union-attr]
    assert float(holdout["mean"]) == pytest.approx(0.20)
    assert float(rest["difference"]) == pytest.approx(c.difference)
    assert float(rest["difference_ci_low"]) == pytest.approx(c.ci_low)
    assert float(rest["difference_ci_high"]) == pytest.approx(c.ci_high)
    assert (float(rest["lift"]), float(rest["p_value"])) == (
        pytest.approx(c.lift),
        pytest.approx(c.p_value),
    )
    # The holdout is the baseline: no comparison of its own.
    assert holdout["difference"] == holdout["lift"] == holdout["p_value"] == ""


def test_the_changelist_srm_flag_ignores_the_holdout(
    held: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    caches["default"].clear()
    traffic(store, minutes(5), 300, {"control": 4, "b": 4, "holdout": 4})
    # 300/300 in the variants: no mismatch, though control "served" 600 contexts.
    p_value = current_srm_p_value(held)
    assert p_value is not None and p_value > 0.5


def test_a_namespace_holdout_phase_gets_the_section_before_any_traffic(
    held: Experiment,
) -> None:
    Phase.objects.filter(experiment=held).update(population={"namespace_holdout": "5"})
    report = results_for(held)
    assert report.holdout is not None and report.holdout.exposed == 0
    assert report.holdout.metrics == []
