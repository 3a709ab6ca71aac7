"""``manage.py seed_demo``: one running experiment per page, no check warnings, and results
pages filled by simulated visitors through the real tracking path (``simulate_traffic``:
resolution and tracking through the public API, eager Celery, the database sink)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from django_experiments.models import Experiment
from django_experiments.results import results_for
from django_experiments.tracking.models import TrackedEvent

# transaction=True: events leave a request after its transaction commits, as in production.
pytestmark = [pytest.mark.urls("example_project.urls"), pytest.mark.django_db(transaction=True)]

SINKS = ["django_experiments.tracking.sinks.DatabaseSink"]


@pytest.fixture
def demo_settings(settings: Any) -> Any:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "TRACKING_SINKS": SINKS}
    return settings


def seed(visitors: int) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", visitors=visitors, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_one_running_experiment_per_page_and_no_warnings(demo_settings: Any) -> None:
    out, err = seed(visitors=0)
    rows = {e.name: e for e in Experiment.objects.prefetch_related("treatments")}
    assert set(rows) == {"cta", "pricing", "headline"}
    assert all(e.status == "running" for e in rows.values())
    assert [t.payload for t in rows["pricing"].treatments.all()] == [
        {"price": "12"},
        {"price": "9"},
    ]
    assert "W105" not in out + err and "WARNINGS" not in out + err
    assert err == ""


def test_traffic_goes_through_the_tracking_path_into_the_results(demo_settings: Any) -> None:
    out, _ = seed(visitors=60)
    assert "cta: 60 simulated visitors" in out and "60 visitors of 'headline' simulated" in out
    for name, event in (("cta", "clicked"), ("pricing", "visited"), ("headline", "subscribed")):
        report = results_for(Experiment.objects.get(name=name))
        # Every visitor saw every page once: one exposure per visitor and experiment.
        assert sum(v.exposed for v in report.variants) == 60
        assert {v.name for v in report.variants if v.exposed} == {
            t.name for t in Experiment.objects.get(name=name).treatments.all()
        }
        metric = next((m for m in report.metrics if m.event == event), None)
        assert metric is not None, name
        converted = sum(row.converted for row in metric.rows)
        assert 0 < converted < 60
        assert TrackedEvent.objects.filter(experiment=name, event=event).count() == converted


def test_seeding_twice_adds_nothing(demo_settings: Any) -> None:
    seed(visitors=5)
    events = TrackedEvent.objects.count()
    out, _ = seed(visitors=5)
    assert TrackedEvent.objects.count() == events
    assert Experiment.objects.count() == 3
    assert "simulated" not in out


NAV = re.compile(r'<nav class="site-nav"[^>]*>(.*?)</nav>', re.S)


def nav_links(html: str) -> list[str]:
    match = NAV.search(html)
    assert match, "no nav on the page"
    return re.findall(r'href="([^"]+)"', match[1])


@pytest.mark.parametrize("page", ["/", "/pricing/", "/headline/", "/login/"])
def test_every_page_links_every_page_and_every_link_works(
    demo_settings: Any, admin_user: Any, page: str
) -> None:
    seed(visitors=0)
    client = Client()
    html = client.get(page).content.decode()
    links = nav_links(html)
    assert {"/", "/pricing/", "/headline/", "/results/", "/admin/", "/login/"} <= set(links)
    assert 'href="/static/demo/demo.css"' in html
    for link in links:
        response = client.get(link, follow=True)
        assert response.status_code == 200, link
    client.force_login(admin_user)
    results = client.get("/results/", follow=True)
    assert results.status_code == 200
    assert results.redirect_chain[-1][0].endswith("/results/")
    assert b'id="glex-exposed"' in results.content


def test_pricing_tracked_link_leads_home(demo_settings: Any) -> None:
    seed(visitors=0)
    client = Client()
    client.get("/")  # a visitor arrives on the landing page, then opens pricing
    pricing = client.get("/pricing/").content.decode()
    link = re.search(r'href="(/experiments/r/[^"]+)"[^>]*>Tracked link back home', pricing)
    assert link, pricing
    response = client.get(link[1].replace("&amp;", "&"))
    assert response.status_code == 303 and response["Location"] == "/"
    assert TrackedEvent.objects.filter(experiment="pricing", event="visited").count() == 1


def test_demo_runs_on_utc() -> None:
    from example_project import settings as demo

    assert demo.TIME_ZONE == "UTC"
