"""The namespace admin: allocation bar, shares set on the experiment's page, clear errors for
overlapping ranges and junk percentages (never a 500), phases when a range changes."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from django_experiments.models import Experiment, GlobalHoldout, Namespace, Phase
from django_experiments.services import record_change
from tests.test_admin import errors_of, form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkout(make_experiment: Any) -> Namespace:
    namespace = Namespace.objects.create(name="checkout")
    for name, share in (("a", "30"), ("b", "20")):
        exp = make_experiment(name)
        exp.namespace, exp.namespace_share = namespace, Decimal(share)
        exp.save()
    return namespace


def namespace_data(namespace: Namespace | None, **fields: Any) -> dict[str, Any]:
    data = {
        "name": namespace.name if namespace else "checkout",
        "description": "",
        "holdout_percent": "0",
    }
    data.update({k: str(v) for k, v in fields.items()})
    return data


def experiment_data(exp: Experiment, **fields: Any) -> dict[str, Any]:
    rows = [
        {"name": t.name, "weight": t.weight, "is_control": t.is_control}
        for t in exp.treatments.all()
    ]
    return form_data(exp, rows, **{k: str(v) for k, v in fields.items()})


def test_salt_defaults_to_the_name_and_then_stays(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:django_experiments_namespace_add"), namespace_data(None, salt="")
    )
    assert response.status_code == 302, errors_of(response)
    namespace = Namespace.objects.get()
    assert namespace.salt == "checkout"
    url = reverse("admin:django_experiments_namespace_change", args=[namespace.pk])
    response = admin_client.post(url, namespace_data(namespace, name="renamed", salt="other"))
    assert response.status_code == 302, errors_of(response)
    namespace.refresh_from_db()
    assert (namespace.name, namespace.salt) == ("renamed", "checkout")


def test_the_change_page_shows_the_allocation_bar(
    admin_client: Client, checkout: Namespace
) -> None:
    checkout.holdout_percent = Decimal(5)
    checkout.save()
    url = reverse("admin:django_experiments_namespace_change", args=[checkout.pk])
    page = admin_client.get(url).content.decode()
    assert 'class="glex-bar"' in page
    # Holdout first, then the experiments in the order they joined, then the free space.
    widths = re.findall(
        r'glex-segment glex-(\w+)[^"]*" style="left: ([\d.]+)%; width: ([\d.]+)%', page
    )
    assert widths == [
        ("holdout", "0", "5"),
        ("experiment", "5", "30"),
        ("experiment", "35", "20"),
        ("free", "55", "45"),
    ]
    assert "0–499" in page and "500–3499" in page and "3500–5499" in page
    changelist = admin_client.get(reverse("admin:django_experiments_namespace_changelist"))
    assert "50 % (2 experiments)" in changelist.content.decode()


def test_the_experiment_page_outlines_its_own_range(
    admin_client: Client, checkout: Namespace
) -> None:
    b = Experiment.objects.get(name="b")
    page = admin_client.get(
        reverse("admin:django_experiments_experiment_change", args=[b.pk])
    ).content.decode()
    assert 'glex-highlight" style="left: 30%; width: 20%' in page
    assert '<tr data-owner="b" class="glex-highlight">' in page


def test_overlapping_ranges_are_refused_with_a_clear_message(
    admin_client: Client, checkout: Namespace
) -> None:
    b = Experiment.objects.get(name="b")
    url = reverse("admin:django_experiments_experiment_change", args=[b.pk])
    response = admin_client.post(
        url, experiment_data(b, namespace=checkout.pk, namespace_share="75")
    )
    assert response.status_code == 200
    assert (
        "The ranges of namespace &#x27;checkout&#x27; would overlap: a 30 %, b 75 % add up to "
        "105 % of its 100 %." in errors_of(response)
    )
    b.refresh_from_db()
    assert b.namespace_share == Decimal(20)


def test_a_holdout_that_overlaps_the_experiments_is_refused(
    admin_client: Client, checkout: Namespace
) -> None:
    url = reverse("admin:django_experiments_namespace_change", args=[checkout.pk])
    response = admin_client.post(url, namespace_data(checkout, holdout_percent="60"))
    assert response.status_code == 200
    assert "the holdout 60 %, a 30 %, b 20 % add up to 110 %" in errors_of(response)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "Enter a number."),
        ("-1", "Ensure this value is greater than or equal to 0."),
        ("100.5", "Ensure this value is less than or equal to 100."),
        ("12.345", "Ensure that there are no more than 2 decimal places."),
        ("1e400", "Ensure that there are no more than 5 digits in total."),
        ("NaN", "Enter a number."),
    ],
)
def test_junk_percentages_are_form_errors(
    admin_client: Client, checkout: Namespace, value: str, message: str
) -> None:
    url = reverse("admin:django_experiments_namespace_change", args=[checkout.pk])
    response = admin_client.post(url, namespace_data(checkout, holdout_percent=value))
    assert response.status_code == 200 and message in errors_of(response)
    b = Experiment.objects.get(name="b")
    url = reverse("admin:django_experiments_experiment_change", args=[b.pk])
    response = admin_client.post(
        url, experiment_data(b, namespace=checkout.pk, namespace_share=value)
    )
    assert response.status_code == 200 and message in errors_of(response)
    holdout_url = reverse("admin:django_experiments_globalholdout_add")
    response = admin_client.post(holdout_url, {"percent": value})
    assert response.status_code == 200 and message in errors_of(response)


def test_a_share_needs_a_namespace_and_a_namespace_needs_a_share(
    admin_client: Client, checkout: Namespace, make_experiment: Any
) -> None:
    exp = make_experiment("c")
    url = reverse("admin:django_experiments_experiment_change", args=[exp.pk])
    response = admin_client.post(url, experiment_data(exp, namespace_share="10"))
    assert "A namespace share needs a namespace" in errors_of(response)
    response = admin_client.post(url, experiment_data(exp, namespace=checkout.pk))
    assert "Set the share of namespace &#x27;checkout&#x27; this experiment owns" in errors_of(
        response
    )


def test_a_namespace_with_experiments_cannot_be_deleted(
    admin_client: Client, checkout: Namespace
) -> None:
    url = reverse("admin:django_experiments_namespace_delete", args=[checkout.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert "would require deleting the following protected related objects" in errors_of(response)
    assert Namespace.objects.filter(pk=checkout.pk).exists()


def test_one_global_holdout_row(admin_client: Client) -> None:
    url = reverse("admin:django_experiments_globalholdout_add")
    assert admin_client.post(url, {"percent": "5"}).status_code == 302
    assert admin_client.get(url).status_code == 403


def test_a_range_change_in_the_admin_opens_a_phase(
    admin_client: Client, checkout: Namespace, django_capture_on_commit_callbacks: Any
) -> None:
    b = Experiment.objects.get(name="b")
    with django_capture_on_commit_callbacks(execute=True):
        record_change(b.pk)
    url = reverse("admin:django_experiments_experiment_change", args=[b.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, experiment_data(b, namespace=checkout.pk, namespace_share="40")
        )
    assert response.status_code == 302, errors_of(response)
    phases = list(b.phases.order_by("number"))
    assert [p.reason for p in phases] == [Phase.Reason.CREATED, Phase.Reason.POPULATION]
    assert phases[1].previous_population["slots"] == [[3000, 5000]]
    assert phases[1].population["slots"] == [[3000, 7000]]
    assert phases[1].describe_change() == (
        "population namespace checkout 20 % → namespace checkout 40 %"
    )
    assert phases[1].changed_by_label == "admin"
    # The sibling kept its range: no phase for it.
    a = Experiment.objects.get(name="a")
    assert a.phases.filter(reason=Phase.Reason.POPULATION).count() == 0


def test_a_global_holdout_change_opens_a_phase_everywhere(
    admin_client: Client, checkout: Namespace, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        GlobalHoldout.objects.create(percent=Decimal("2.5"))
    for exp in Experiment.objects.all():
        phase = exp.current_phase
        assert phase is not None and phase.population["global_holdout"] == "2.5"
