"""The admin's presentation details: weights as typed, one error per problem, default orders,
headers, messages as typed, no empty tables (issue 13, admin polish)."""

from __future__ import annotations

import re
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from django_experiments.admin import WeightInput, percent
from django_experiments.models import Experiment, Phase
from django_experiments.services import record_change
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db

ADD = "admin:django_experiments_experiment_add"
CHANGE = "admin:django_experiments_experiment_change"


def change_url(exp: Experiment) -> str:
    return reverse(CHANGE, args=[exp.pk])


def weight_values(body: str) -> list[str]:
    return re.findall(r'name="treatments-\d+-weight" value="([^"]*)"', body)


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (Decimal("1.0000"), "1"),
        (Decimal("0.5000"), "0.5"),
        (Decimal("100.0000"), "100"),
        (Decimal("0.0000"), "0"),
        (Decimal("2.2500"), "2.25"),
        ("-1", "-1"),  # re-shown as typed after an error
        (None, None),
    ],
)
def test_weight_input_drops_trailing_zeros(stored: Any, shown: str | None) -> None:
    assert WeightInput().format_value(stored) == shown


def test_change_form_shows_weights_without_trailing_zeros(
    admin_client: Client, make_experiment: Any
) -> None:
    exp = make_experiment("cta", control=Decimal("1"), candidate=Decimal("0.5"), big=100)
    body = admin_client.get(change_url(exp)).content.decode()
    assert weight_values(body) == ["1", "0.5", "100"]
    assert "1.0000" not in body


def test_shares_drop_trailing_zeros() -> None:
    assert [percent(50.0), percent(33.33), percent(12.5), percent(0.0)] == [
        "50",
        "33.33",
        "12.5",
        "0",
    ]


def test_negative_weight_is_one_error(admin_client: Client) -> None:
    data = form_data(None, [{"name": "control", "weight": -1, "is_control": True}])
    response = admin_client.post(reverse(ADD), data)
    assert response.status_code == 200
    body = response.content.decode()
    errors = re.findall(
        r'<ul class="errorlist" id="id_treatments-0-weight_error">(.*?)</ul>', body, re.S
    )
    assert len(errors) == 1
    assert re.findall(r"<li>(.*?)</li>", errors[0]) == ["Weight must be 0 or more, got -1."]
    assert "Ensure this value" not in body
    assert not Experiment.objects.exists()


def test_new_rows_left_at_order_zero_go_last(admin_client: Client) -> None:
    rows = [
        {"name": "control", "weight": 1, "is_control": True},
        {"name": "b", "weight": 1},
        {"name": "c", "weight": 1},
    ]
    data = form_data(None, rows)
    for i in range(3):
        data[f"treatments-{i}-order"] = "0"  # what the Add another row starts with
    response = admin_client.post(reverse(ADD), data)
    assert response.status_code == 302
    exp = Experiment.objects.get(name="cta")
    assert list(exp.treatments.values_list("name", "order")) == [
        ("control", 0),
        ("b", 1),
        ("c", 2),
    ]


def test_a_row_added_to_an_experiment_goes_after_the_existing_ones(
    admin_client: Client, make_experiment: Any
) -> None:
    exp = make_experiment("cta", status="draft", control=1, candidate=1)
    data = form_data(
        exp,
        [
            {"name": "control", "weight": 1, "is_control": True},
            {"name": "candidate", "weight": 1},
            {"name": "third", "weight": 1},
        ],
    )
    data["treatments-2-order"] = "0"
    response = admin_client.post(change_url(exp), data)
    assert response.status_code == 302
    assert exp.treatments.get(name="third").order == 2


def test_explicit_orders_are_kept(admin_client: Client) -> None:
    data = form_data(
        None,
        [{"name": "control", "weight": 1, "is_control": True}, {"name": "b", "weight": 1}],
    )
    data["treatments-0-order"] = "5"
    data["treatments-1-order"] = "0"
    assert admin_client.post(reverse(ADD), data).status_code == 302
    exp = Experiment.objects.get(name="cta")
    assert dict(exp.treatments.values_list("name", "order")) == {"control": 5, "b": 0}


def test_add_page_has_no_phases_table(admin_client: Client, make_experiment: Any) -> None:
    add = admin_client.get(reverse(ADD)).content.decode()
    assert 'id="treatments-group"' in add
    assert 'id="phases-group"' not in add
    exp = make_experiment("cta")
    record_change(exp.pk)
    change = admin_client.get(change_url(exp)).content.decode()
    assert 'id="phases-group"' in change


def test_phase_tables_head_the_editor_column_changed_by(
    admin_client: Client, make_experiment: Any
) -> None:
    exp = make_experiment("cta")
    record_change(exp.pk)
    Phase.objects.filter(experiment=exp).update(changed_by_label="ann")
    inline = admin_client.get(change_url(exp)).content.decode()
    changelist = admin_client.get(
        reverse("admin:django_experiments_phase_changelist")
    ).content.decode()
    for body in (inline, changelist):
        assert re.search(r"<th[^>]*>\s*(<div[^>]*>)?\s*(<a[^>]*>)?Changed by(</a>)?", body)
        assert "changed by label" not in body.lower()
        assert ">ann<" in body


def test_messages_keep_the_experiment_name_as_typed(
    admin_client: Client, make_experiment: Any
) -> None:
    exp = make_experiment("cta", status="draft", control=0, candidate=0)
    response = admin_client.post(
        reverse("admin:django_experiments_experiment_changelist"),
        {"action": "start", "_selected_action": [exp.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert '<li class="error">cta: A running experiment needs' in body
    assert "Cta:" not in body


def test_results_page_prints_clean_phase_dates(
    admin_client: Client, make_experiment: Any, settings: Any
) -> None:
    settings.TIME_ZONE = "UTC"
    exp = make_experiment("cta")
    phase = record_change(exp.pk)
    assert phase is not None
    Phase.objects.filter(pk=phase.pk).update(
        started_at=datetime(2026, 12, 2, 15, 4, tzinfo=dt_timezone.utc)
    )
    url = reverse("admin:django_experiments_experiment_results", args=[exp.pk])
    body = admin_client.get(url).content.decode()
    assert "2026-12-02 15:04" in body
    assert "p.m." not in body and "a.m." not in body
