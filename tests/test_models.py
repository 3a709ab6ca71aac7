"""Model validation through full_clean(): the messages of validation.py, on the right field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from django_experiments import validation as v
from django_experiments.models import Experiment, Phase, Treatment


def _errors(instance: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        instance.full_clean()
    return dict(exc.value.message_dict)


@pytest.fixture
def row(db: Any) -> Experiment:
    exp = Experiment.objects.create(name="cta")
    Treatment.objects.create(experiment=exp, name="control", is_control=True, order=0)
    Treatment.objects.create(experiment=exp, name="candidate", order=1)
    return exp


def test_good_experiment_validates(row: Experiment) -> None:
    row.status = "running"
    row.full_clean()
    for treatment in row.treatments.all():
        treatment.full_clean()


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        (Decimal("-1"), v.MSG_NEGATIVE.format(value=Decimal("-1"))),
        ("-1", v.MSG_NEGATIVE.format(value=Decimal("-1"))),
        ("abc", v.MSG_NOT_A_NUMBER.format(value="abc")),
        (float("nan"), v.MSG_NOT_FINITE.format(value="NaN")),
        (Decimal("NaN"), v.MSG_NOT_FINITE.format(value="NaN")),
        (None, v.MSG_NOT_A_NUMBER.format(value=None)),
    ],
    ids=["negative", "negative-str", "non-numeric", "nan-float", "nan-decimal", "none"],
)
def test_treatment_weight_messages(row: Experiment, weight: Any, message: str) -> None:
    treatment = Treatment(experiment=row, name="extra", weight=weight)
    errors = _errors(treatment)
    assert message in errors["weight"]
    assert set(errors) == {"weight"}


def test_all_zero_weights_on_running(row: Experiment) -> None:
    row.treatments.update(weight=0)
    row.status = "draft"
    row.full_clean()
    row.status = "running"
    assert _errors(row) == {"status": [v.MSG_NO_POSITIVE]}


def test_running_without_treatments(db: Any) -> None:
    exp = Experiment.objects.create(name="empty")
    exp.status = "running"
    assert _errors(exp) == {"status": [v.MSG_NO_TREATMENTS]}


def test_negative_weight_saved_around_validation_is_reported(row: Experiment) -> None:
    row.treatments.filter(name="candidate").update(weight=-3)
    errors = _errors(row)
    assert errors == {"status": ["candidate: " + v.MSG_NEGATIVE.format(value=Decimal("-3.0000"))]}


def test_no_control(row: Experiment) -> None:
    row.treatments.update(is_control=False)
    assert _errors(row) == {"status": [v.MSG_NO_CONTROL]}


def test_several_controls(row: Experiment) -> None:
    row.treatments.update(is_control=True)
    expected = v.MSG_SEVERAL_CONTROLS.format(count=2, names="control, candidate")
    assert _errors(row) == {"status": [expected]}


def test_duplicate_treatment_name(row: Experiment) -> None:
    duplicate = Treatment(experiment=row, name="candidate")
    errors = _errors(duplicate)
    assert errors["__all__"]  # the unique constraint, reported as a validation error


def test_winner_not_of_this_experiment(row: Experiment) -> None:
    other = Experiment.objects.create(name="other")
    foreign = Treatment.objects.create(experiment=other, name="x", is_control=True)
    row.winner = foreign
    assert _errors(row) == {"winner": [v.MSG_WINNER]}
    row.winner = row.treatments.get(name="candidate")
    row.full_clean()


def test_winner_on_an_unsaved_experiment(row: Experiment) -> None:
    fresh = Experiment(name="fresh", winner=row.treatments.get(name="control"))
    assert _errors(fresh)["winner"] == [v.MSG_WINNER]


def test_winner_deleted_meanwhile(row: Experiment) -> None:
    winner = row.treatments.get(name="candidate")
    row.winner = winner
    row.save()
    winner_id = winner.pk
    Treatment.objects.filter(pk=winner_id).delete()
    row.winner_id = winner_id  # a stale in-memory instance still points at it
    errors = _errors(row)
    assert "winner" in errors


def test_str_and_current_phase(row: Experiment) -> None:
    treatment = row.treatments.get(name="control")
    assert str(row) == "cta"
    assert str(treatment) == "cta:control"
    assert row.current_phase is None
    now = timezone.now()
    old = Phase.objects.create(
        experiment=row, number=1, reason="created", started_at=now, ended_at=now, salt="a"
    )
    new = Phase.objects.create(
        experiment=row,
        number=2,
        reason="weights",
        started_at=now,
        salt="b",
        previous_salt="a",
        weights={"control": "1", "candidate": "3"},
        previous_weights={"control": "1", "candidate": "1"},
    )
    assert row.current_phase == new
    assert str(new) == "cta phase 2"
    assert new.describe_change() == (
        "weights control=1, candidate=1 → control=1, candidate=3; salt a → b"
    )
    assert old.describe_change() == "Created"


def test_salt_defaults_are_random(db: Any) -> None:
    a = Experiment.objects.create(name="a")
    b = Experiment.objects.create(name="b")
    assert a.salt and b.salt and a.salt != b.salt
