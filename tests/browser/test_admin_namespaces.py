"""The namespace admin in Chromium: the allocation bar as drawn, and an overlap refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from django_experiments.models import Experiment, Namespace, Status, Treatment
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def member(namespace: Namespace, name: str, share: str) -> Experiment:
    exp = Experiment.objects.create(name=name)
    Treatment.objects.create(experiment=exp, name="control", is_control=True)
    Treatment.objects.create(experiment=exp, name="candidate", order=1)
    exp.status, exp.namespace, exp.namespace_share = Status.RUNNING, namespace, Decimal(share)
    exp.save()
    return exp


def test_the_bar_draws_each_range_where_it_lies(editor: Any) -> None:
    page = editor
    namespace = Namespace.objects.create(name="checkout", holdout_percent=Decimal(5))
    member(namespace, "button-colour", "30")
    member(namespace, "shipping-copy", "45")
    page.goto(f"/admin/django_experiments/namespace/{namespace.pk}/change/")
    bar = page.locator(".glex-bar").bounding_box()
    assert bar is not None and bar["width"] > 200
    boxes = page.eval_on_selector_all(
        ".glex-segment",
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [e.className, r.left, r.width]; })",
    )
    # Holdout 5 %, then 30 %, 45 %, and 20 % free, side by side across the whole bar.
    widths = [round(100 * width / bar["width"]) for _, _, width in boxes]
    assert widths == [5, 30, 45, 20]
    lefts = [left for _, left, _ in boxes]
    assert lefts == sorted(lefts)
    assert "glex-holdout" in boxes[0][0] and "glex-free" in boxes[-1][0]
    screenshot(page, "admin-namespace-allocation", element="#namespace_form")


def test_an_overlapping_share_is_refused_on_the_experiment_page(editor: Any) -> None:
    page = editor
    namespace = Namespace.objects.create(name="checkout")
    member(namespace, "button-colour", "60")
    other = member(namespace, "shipping-copy", "30")
    page.goto(f"/admin/django_experiments/experiment/{other.pk}/change/")
    page.fill("#id_namespace_share", "50")
    page.click("input[name=_save]")
    error = page.locator(".field-namespace_share .errorlist").inner_text()
    assert "would overlap: button-colour 60 %, shipping-copy 50 % add up to 110 %" in error
    screenshot(page, "admin-namespace-overlap", element=".field-namespace_share")
