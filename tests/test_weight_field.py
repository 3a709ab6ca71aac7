"""The admin's weight input: every string is a weight or a form error, never an exception."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_experiments.admin import TreatmentInline
from django_experiments.models import Experiment, Treatment
from django_experiments.validation import MAX_WEIGHT_INPUT, parse_weight
from django_experiments.weight_field import WeightField
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db

WEIRD = [
    "sNaN",
    "-sNaN",
    "NaN",
    "inf",
    "-Infinity",
    "1e999999",
    "",
    " ",
    "abc",
    "9" * 10_000,
    "1e999999999999999999",
    "0x10",
    "\x00",
    "-1",
    "1e-999999",
    "100000000",
]


@pytest.mark.parametrize("value", ["sNaN", "-sNaN", "NaN", "inf", "1e999999", "abc", "9" * 10_000])
def test_the_field_gives_errors_not_exceptions(value: str) -> None:
    field = WeightField(max_digits=12, decimal_places=4)
    assert field.has_changed(Decimal("1"), value)  # Django's own field raised InvalidOperation
    with pytest.raises(ValidationError):
        field.clean(value)


def test_minus_zero_is_zero() -> None:
    assert str(parse_weight("-0")) == "0"
    assert str(WeightField(max_digits=12, decimal_places=4).clean("-0.00")) == "0.00"


def test_long_input_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as info:
        parse_weight("1" * (MAX_WEIGHT_INPUT + 1))
    assert str(MAX_WEIGHT_INPUT) in info.value.messages[0]
    with pytest.raises(ValidationError) as info:
        parse_weight("x" * 90)
    assert len(info.value.messages[0]) < 100


@pytest.mark.parametrize("value", WEIRD)
def test_admin_change_form_answers_with_a_form_error(
    admin_client: Client, make_experiment: Any, value: str
) -> None:
    exp = make_experiment("cta", status="draft")
    url = reverse("admin:django_experiments_experiment_change", args=[exp.pk])
    rows = [
        {"name": "control", "weight": value, "is_control": True},
        {"name": "candidate", "weight": 1},
    ]
    response = admin_client.post(url, form_data(exp, rows))
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert Treatment.objects.get(experiment=exp, name="control").weight == Decimal(1)


def _formset_class(exp: Experiment, user: Any) -> Any:
    """The formset class the admin's change view builds for ``exp``."""
    request = RequestFactory().post("/")
    request.user = user
    return TreatmentInline(Experiment, django_admin.site).get_formset(request, exp)


def test_the_admins_formset_under_fuzzing(make_experiment: Any, admin_user: Any) -> None:
    """The admin's own formset class, without the page around it: many more examples."""
    exp = make_experiment("cta", status="draft")
    formset_class = _formset_class(exp, admin_user)
    rows = [{"name": "control", "weight": 1, "is_control": True}, {"name": "b", "weight": 1}]
    base = form_data(exp, rows)
    seen = {"valid": 0, "invalid": 0}

    @settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=400,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        first=st.sampled_from(WEIRD) | st.text(max_size=40) | st.decimals().map(str),
        second=st.sampled_from(WEIRD) | st.text(max_size=40) | st.floats().map(str),
        status=st.sampled_from(["draft", "running"]),
    )
    def run(first: str, second: str, status: str) -> None:
        exp.status = status
        data = {**base, "treatments-0-weight": first, "treatments-1-weight": second}
        formset = formset_class(data, instance=exp, prefix="treatments")
        valid = formset.is_valid()
        assert all(isinstance(form.has_changed(), bool) for form in formset.forms)
        seen["valid" if valid else "invalid"] += 1
        if valid:
            for form in formset.forms:
                weight = form.cleaned_data["weight"]
                assert weight.is_finite() and weight >= 0 and not weight.is_signed()

    run()
    print(f"\nfuzz admin formset: {sum(seen.values())} forms, {seen}")
    assert seen["valid"] > 0 and seen["invalid"] > 0
