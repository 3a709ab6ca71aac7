"""The admin in Chromium: create an experiment, watch the live shares, start it, change weights."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from django_experiments.models import Experiment, Phase
from tests.browser.conftest import VIEWPORT, screenshot
from tests.browser.helpers import expected_shares, make_cta, variant_shown

pytestmark = pytest.mark.browser

ADD = "/admin/django_experiments/experiment/add/"
CHANGELIST = "/admin/django_experiments/experiment/"


def row_share(page: Any, index: int) -> str:
    return str(page.inner_text(f"#treatments-{index} .glex-row-share")).strip()


def preview_table(page: Any) -> dict[str, str]:
    cells = page.eval_on_selector_all(
        "#glex-share-preview tbody tr",
        "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])",
    )
    return dict(cells)


def add_treatment(page: Any, index: int, name: str) -> None:
    page.click("#treatments-group .add-row a")
    page.fill(f"#id_treatments-{index}-name", name)


def overflow(page: Any) -> dict[str, int]:
    return dict(
        page.evaluate(
            """() => ({
                page: document.documentElement.scrollWidth,
                window: window.innerWidth,
                inline: Math.ceil(document.querySelector('#treatments-group')
                    .getBoundingClientRect().right),
                table: Math.ceil(document.querySelector('#treatments-group table')
                    .getBoundingClientRect().right),
            })"""
        )
    )


def test_create_an_experiment_with_three_treatments(editor: Any) -> None:
    page = editor
    page.goto(ADD)
    assert page.locator("#phases-group").count() == 0  # nothing to show before a save
    page.fill("#id_name", "cta")
    for index, name in enumerate(["control", "candidate", "extra"]):
        add_treatment(page, index, name)
    page.check("#id_treatments-0-is_control")
    # Each added row goes after the others, and starts at weight 1 (shown as "1").
    orders = [page.input_value(f"#id_treatments-{i}-order") for i in range(3)]
    weights = [page.input_value(f"#id_treatments-{i}-weight") for i in range(3)]
    assert orders == ["0", "1", "2"] and weights == ["1", "1", "1"]
    shares = expected_shares(control=1, candidate=1, extra=1)
    assert [row_share(page, i) for i in range(3)] == list(shares.values())

    size = overflow(page)
    assert size["page"] <= VIEWPORT["width"], size
    assert size["inline"] <= VIEWPORT["width"] and size["table"] <= VIEWPORT["width"], size
    screenshot(page, "admin-add-experiment", full_page=True)

    page.click("input[name=_save]")
    page.wait_for_url(re.compile(re.escape(CHANGELIST) + r"$"))
    message = page.inner_text(".messagelist li.success")
    assert "cta" in message
    exp = Experiment.objects.get(name="cta")
    assert list(exp.treatments.values_list("name", "order", "is_control")) == [
        ("control", 0, True),
        ("candidate", 1, False),
        ("extra", 2, False),
    ]
    assert sorted(str(w) for w in exp.treatments.values_list("weight", flat=True)) == ["1.0000"] * 3


def test_live_share_preview_follows_typing(editor: Any) -> None:
    exp = make_cta(status="draft", control=1, candidate=1, extra=1)
    page = editor
    page.goto(f"{CHANGELIST}{exp.pk}/change/")
    assert preview_table(page) == expected_shares(control=1, candidate=1, extra=1)
    weight = page.locator("#id_treatments-1-weight")
    weight.fill("")
    assert row_share(page, 1) == "invalid weight"
    # Key by key: "2" then "20"; every keystroke re-computes the slot table's shares.
    weight.press_sequentially("2")
    assert [row_share(page, i) for i in range(3)] == ["25%", "50%", "25%"]
    weight.press_sequentially("0")
    typed = expected_shares(control=1, candidate=20, extra=1)
    assert [row_share(page, i) for i in range(3)] == list(typed.values())
    assert preview_table(page) == typed
    screenshot(page, "admin-live-shares", element="#treatments-group")
    page.check("#id_treatments-2-DELETE")
    assert preview_table(page) == expected_shares(control=1, candidate=20)
    page.fill("#id_treatments-0-weight", "-1")
    assert row_share(page, 0) == "invalid weight"
    assert "glex-invalid" in (page.get_attribute("#treatments-0 .glex-row-share", "class") or "")


def test_negative_weight_is_refused_with_one_error(editor: Any) -> None:
    exp = make_cta(status="draft")
    page = editor
    page.goto(f"{CHANGELIST}{exp.pk}/change/")
    page.fill("#id_treatments-1-weight", "-1")
    page.click("input[name=_continue]")
    # One item, with the shared rule's message (expect() waits for the answer to render).
    expect(page.locator("#id_treatments-1-weight_error li")).to_have_text(
        ["Weight must be 0 or more, got -1."]
    )


def test_start_then_a_new_visitor_sees_a_variant(editor: Any, visitor: Callable[[], Any]) -> None:
    exp = make_cta(status="draft")
    page = editor
    page.goto(CHANGELIST)
    page.check(f"input[name=_selected_action][value='{exp.pk}']")
    page.select_option("select[name=action]", "start")
    page.click("button[name=index]")
    assert page.inner_text(".messagelist li.success").strip() == "Started: cta"
    exp.refresh_from_db()
    assert exp.status == "running"

    newcomer = visitor()
    newcomer.goto("/")
    variant = variant_shown(newcomer)
    assert variant in {"control", "candidate"}
    label = {"control": "Sign up", "candidate": "Start your free trial"}[variant]
    assert newcomer.inner_text("button.cta").strip() == label
    assert newcomer.locator(f"button.cta-{variant}").count() == 1
    screenshot(newcomer, "demo-landing")


def test_changing_weights_opens_a_new_phase(editor: Any) -> None:
    exp = make_cta(control=1, candidate=1)
    before = Phase.objects.filter(experiment=exp).count()
    page = editor
    page.goto(f"{CHANGELIST}{exp.pk}/change/")
    assert page.input_value("#id_treatments-1-weight") == "1"
    page.fill("#id_treatments-1-weight", "3")
    assert row_share(page, 1) == "75%"
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist li.success")
    assert Phase.objects.filter(experiment=exp).count() == before + 1
    newest = page.locator("#phases-group tbody tr").first
    assert "Weights changed" in newest.inner_text()
    assert "control=1, candidate=1 → control=1, candidate=3" in newest.inner_text()
    assert "editor" in newest.inner_text()
    headers = [h.strip() for h in page.locator("#phases-group thead th").all_inner_texts()]
    assert "CHANGED BY" in [h.upper() for h in headers]
    assert not any("LABEL" in h.upper() for h in headers)
    assert page.input_value("#id_treatments-1-weight") == "3"
    screenshot(page, "admin-change-experiment", full_page=True)
    screenshot(page, "admin-phases", element="#phases-group")
