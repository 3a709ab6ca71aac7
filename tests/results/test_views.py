"""The admin results page, its JSON and CSV, the phase selector and the SRM warning/flag."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from django_experiments.models import Experiment, Phase
from django_experiments.results import results_for
from tests.results.conftest import event

Store = Callable[[list[dict[str, Any]]], None]


def url(name: str, exp: Experiment, query: str = "") -> str:
    return reverse(f"admin:django_experiments_experiment_{name}", args=[exp.pk]) + query


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    caches["default"].clear()  # the changelist's SRM flag is cached per phase


@pytest.fixture
def cta(make_experiment: Any, store: Store, minutes: Callable[[float], datetime]) -> Experiment:
    """Two phases; phase 2 (current) has 40/40 contexts and clicks, with purchase values."""
    exp: Experiment = make_experiment("cta", control=1, candidate=1)
    Phase.objects.filter(experiment=exp).delete()
    weights = {"control": "1", "candidate": "1"}
    common = {"experiment": exp, "reason": "weights", "salt": exp.salt, "weights": weights}
    Phase.objects.create(number=1, started_at=minutes(0), ended_at=minutes(60), **common)
    Phase.objects.create(number=2, started_at=minutes(60), **common)
    batch = [event("assignment", "old", at=minutes(5)), event("clicked", "old", at=minutes(6))]
    for i in range(40):
        for variant, rate in (("control", 4), ("candidate", 2)):
            key = f"{variant}-{i}"
            at = minutes(70 + i * 60)  # spread over days: a daily series
            batch.append(event("assignment", key, variant, at=at))
            if i % rate == 0:
                batch.append(event("clicked", key, variant, at=at, value=i % 7))
    store(batch)
    return exp


def test_page_leads_with_summary_and_draws_svg_without_cdn(
    admin_client: Client, cta: Experiment
) -> None:
    response = admin_client.get(url("results", cta))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index('id="glex-summary"') < body.index('class="glex-metric"')
    assert body.count('class="glex-forest"') == 2  # clicked: binomial and value
    assert body.count('class="glex-daily"') == 4  # per metric, per variant
    assert 'id="glex-srm-warning"' not in body
    assert '<script src="http' not in body and "cdn" not in body.lower()
    report = response.context["results"]
    assert report.phase.number == 2
    assert {v.name: v.exposed for v in report.variants} == {"control": 40, "candidate": 40}
    binomial = report.metrics[0]
    assert {r.variant: r.converted for r in binomial.rows} == {"control": 10, "candidate": 20}
    assert 'id="glex-csv"' in body and 'id="glex-json"' in body


def test_earlier_phase_is_selectable(admin_client: Client, cta: Experiment) -> None:
    response = admin_client.get(url("results", cta, "?phase=1"))
    assert response.status_code == 200
    report = response.context["results"]
    assert report.total_exposed == 1
    assert '<option value="1" selected' in response.content.decode().replace("\n", "")


def test_json_is_the_report(admin_client: Client, cta: Experiment) -> None:
    response = admin_client.get(url("results_json", cta))
    assert response.status_code == 200
    data = response.json()
    assert data == results_for(cta).as_dict() | {"phases": data["phases"]}
    assert data["phase"]["number"] == 2
    assert data["srm"]["failed"] is False
    clicked = next(m for m in data["metrics"] if m["metric"] == "clicked:binomial")
    candidate = next(r for r in clicked["rows"] if r["variant"] == "candidate")
    assert candidate["converted"] == 20
    assert candidate["comparison"]["lift"] == pytest.approx(1.0)
    assert len(clicked["daily"]["control"]) >= 2


def test_csv_export(admin_client: Client, cta: Experiment) -> None:
    response = admin_client.get(url("results_csv", cta, "?phase=2"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="cta-phase-2-results.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 4
    row = next(r for r in rows if r["metric"] == "clicked:binomial" and r["variant"] == "control")
    assert (row["exposed"], row["converted"], row["phase"]) == ("40", "10", "2")


def test_csv_neutralises_formulas(
    admin_client: Client, cta: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    store([event("=HYPERLINK(1)", "control-0", at=minutes(4000))])
    body = admin_client.get(url("results_csv", cta)).content.decode()
    assert "'=HYPERLINK(1)" in body
    assert "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body


@pytest.mark.parametrize(
    "query",
    ["?phase=abc", "?phase=99", "?alpha=2", "?alpha=x", "?correction=magic", "?sequential=-1"],
)
def test_bad_parameters_answer_400_with_the_reason(
    admin_client: Client, cta: Experiment, query: str
) -> None:
    page = admin_client.get(url("results", cta, query))
    assert page.status_code == 400
    assert "errornote" in page.content.decode()
    api = admin_client.get(url("results_json", cta, query))
    assert api.status_code == 400 and api.json()["error"]
    assert admin_client.get(url("results_csv", cta, query)).status_code == 400


def test_options_reach_the_statistics(admin_client: Client, cta: Experiment) -> None:
    data = admin_client.get(
        url("results_json", cta, "?sequential=5000&correction=none&alpha=0.1")
    ).json()
    assert data["options"] == {"alpha": 0.1, "correction": "none", "sequential_tuning": 5000.0}
    fixed = admin_client.get(url("results_json", cta)).json()
    lift = [m for m in data["metrics"] if m["kind"] == "binomial"][0]["rows"][1]["comparison"]
    base = [m for m in fixed["metrics"] if m["kind"] == "binomial"][0]["rows"][1]["comparison"]
    # Always-valid intervals are wider than the fixed-horizon ones at the same data.
    assert lift["ci_high"] - lift["ci_low"] > base["ci_high"] - base["ci_low"]


def test_srm_warning_heads_the_page_and_flags_the_changelist(
    admin_client: Client, cta: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    changelist = reverse("admin:django_experiments_experiment_changelist")
    assert "glex-srm-flag" not in admin_client.get(changelist).content.decode()
    store([event("assignment", f"extra-{i}", "control", at=minutes(200)) for i in range(60)])
    caches["default"].clear()
    body = admin_client.get(url("results", cta)).content.decode()
    assert 'id="glex-srm-warning"' in body
    assert body.index('id="glex-srm-warning"') < body.index('id="glex-summary"')
    assert "glex-srm-flag" in admin_client.get(changelist).content.decode()
    assert admin_client.get(url("results_json", cta)).json()["srm"]["failed"] is True


def test_the_changelist_flags_each_row_with_the_same_queries_for_any_number_of_rows(
    admin_client: Client, make_experiment: Any, store: Store, minutes: Callable[[float], datetime]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    changelist = reverse("admin:django_experiments_experiment_changelist")

    def page() -> tuple[str, int]:
        caches["default"].clear()
        with CaptureQueriesContext(connection) as queries:
            body = admin_client.get(changelist).content.decode()
        return body, len(queries)

    def running(name: str) -> None:
        exp = make_experiment(name, control=1, candidate=1)
        weights = {"control": "1", "candidate": "1"}
        Phase.objects.create(
            experiment=exp,
            number=1,
            started_at=minutes(0),
            reason="weights",
            salt=exp.salt,
            weights=weights,
        )

    def skewed(name: str) -> None:
        # 90 control vs 10 candidate at 50/50: a sample ratio mismatch.
        store(
            [
                event(
                    "assignment",
                    f"{name}-{i}",
                    "control" if i < 90 else "candidate",
                    experiment=name,
                    at=minutes(5),
                    phase=1,
                )
                for i in range(100)
            ]
        )

    running("first")
    running("second")
    skewed("second")
    body, two = page()
    assert body.count("glex-srm-flag") == 1
    for name in ("third", "fourth", "fifth", "sixth"):
        running(name)
    skewed("sixth")
    body, six = page()
    assert six == two  # not one lookup per row
    assert body.count("glex-srm-flag") == 2
    # Cached for the page: the next view reads the cache, and still flags the same rows.
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(changelist).content.decode().count("glex-srm-flag") == 2
    assert len(queries) == six - 1  # the grouped exposure query is not made again


def test_empty_experiment_renders(admin_client: Client, make_experiment: Any) -> None:
    exp = make_experiment("empty")
    response = admin_client.get(url("results", exp))
    assert response.status_code == 200
    assert "No conversion events in this phase yet." in response.content.decode()
    assert admin_client.get(url("results_json", exp)).json()["metrics"] == []


def test_unknown_experiment_is_404_and_staff_only(client: Client, cta: Experiment) -> None:
    from django.contrib.auth.models import User

    assert client.get(url("results_json", cta)).status_code == 302  # to the login page
    User.objects.create_user("bob", password="pw", is_staff=True)
    client.login(username="bob", password="pw")  # staff without the view permission
    assert client.get(url("results_json", cta)).status_code in (403, 404)
    admin = User.objects.create_superuser("root", password="pw")
    client.force_login(admin)
    missing = reverse("admin:django_experiments_experiment_results_json", args=[999])
    assert client.get(missing).status_code == 404
