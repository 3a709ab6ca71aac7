"""The demo in Chromium as visitors see it: forcing, logging in, the nav, and the results."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from django_experiments.models import Experiment
from django_experiments.tracking.models import TrackedEvent
from tests.browser.conftest import PASSWORD, log_in, screenshot
from tests.browser.helpers import make_cta, set_weights, variant_shown

pytestmark = pytest.mark.browser

OTHER = {"control": "candidate", "candidate": "control"}


@pytest.fixture
def demo_urls(settings: Any) -> None:
    settings.LOGIN_URL = "/login/"
    settings.LOGIN_REDIRECT_URL = "/"
    settings.LOGOUT_REDIRECT_URL = "/"


def test_glex_force_shows_the_forced_variant(visitor: Callable[[], Any]) -> None:
    make_cta(control=1, candidate=0)  # nobody is assigned the candidate
    page = visitor()
    page.goto("/?glex_force=cta:candidate")
    assert variant_shown(page) == "candidate"
    assert page.inner_text("button.cta").strip() == "Start your free trial"
    screenshot(page, "demo-forced-candidate")
    newcomer = visitor()
    newcomer.goto("/")
    assert variant_shown(newcomer) == "control"


def test_logging_in_after_an_anonymous_visit_keeps_the_variant(
    visitor: Callable[[], Any], django_user_model: Any, demo_urls: None
) -> None:
    exp = make_cta(control=1, candidate=1)
    user = django_user_model.objects.create_user("ann", "ann@example.com", PASSWORD)
    page = visitor()
    page.goto("/")
    anonymous = variant_shown(page)
    anonymous_key = page.inner_text("[data-experiment=cta] + .variant code:nth-of-type(3)")
    # From now on every new context gets the other variant: if the login did not carry the
    # anonymous assignment over to the account, ann would get that one.
    set_weights(exp, **{anonymous: 0, OTHER[anonymous]: 1})
    stranger = visitor()
    stranger.goto("/")
    assert variant_shown(stranger) == OTHER[anonymous]

    log_in(page, "/login/", user.username)
    page.wait_for_url(re.compile(r"/$"))
    assert page.inner_text(".site-nav .user").strip() == "ann"
    assert variant_shown(page) == anonymous
    assert page.inner_text("[data-experiment=cta] + .variant code:nth-of-type(3)") != anonymous_key
    page.reload()
    assert variant_shown(page) == anonymous


def test_every_nav_link_works(visitor: Callable[[], Any], staff_user: Any, demo_urls: None) -> None:
    call_command("seed_demo", visitors=0, stdout=None)
    page = visitor()
    page.goto("/")
    links = page.eval_on_selector_all(".site-nav a", "links => links.map(a => a.pathname)")
    assert links == ["/", "/pricing/", "/headline/", "/results/", "/admin/", "/login/"]
    for path in links:
        response = page.goto(path)
        assert response is not None and response.ok, path
        assert page.locator(".site-nav").count() == 1 or "/admin/" in page.url, path
    page.goto("/pricing/")
    assert variant_shown(page, "pricing") in {"control", "discount"}
    screenshot(page, "demo-pricing")
    page.click("text=Tracked link back home")
    page.wait_for_url(re.compile(r"/$"))
    assert TrackedEvent.objects.filter(experiment="pricing", event="visited").count() == 1
    page.goto("/headline/")
    assert variant_shown(page, "headline") in {"control", "candidate"}
    page.click("button[name=subscribe]")
    assert page.inner_text(".thanks") == "Thanks for subscribing!"


def test_results_page_shows_the_simulated_traffic(
    visitor: Callable[[], Any], staff_user: Any, demo_urls: None
) -> None:
    call_command("seed_demo", visitors=40, stdout=None)
    assert TrackedEvent.objects.filter(experiment="cta", event="clicked").exists()
    page = visitor()
    page.goto("/results/")
    page.wait_for_url(re.compile(r"/admin/login/"))  # staff only
    page.fill("input[name=username]", staff_user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form [type=submit]")
    exp = Experiment.objects.get(name="cta")
    page.wait_for_url(re.compile(rf"/admin/django_experiments/experiment/{exp.pk}/results/$"))
    exposed = page.eval_on_selector_all(
        "#glex-exposed tbody tr",
        "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])",
    )
    assert {variant.rstrip(" ★") for variant, _ in exposed} == {"control", "candidate"}
    assert sum(int(n) for _, n in exposed) == 40
    clicked = page.locator("table.glex-metric[data-metric*=clicked] tbody tr")
    assert clicked.count() == 2
    # The charts: a forest plot of the lift per metric, a cumulative chart per variant.
    forest = page.locator("svg.glex-forest").first
    forest.scroll_into_view_if_needed()
    assert forest.is_visible()
    box = forest.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 20
    assert page.locator("svg.glex-daily").count() >= 2
    assert "p.m.." not in page.inner_text("#content-main")
    screenshot(page, "admin-results", full_page=True)
    screenshot(page, "admin-results-content", element="#content-main")
