"""validation.py: one code path for model full_clean(), the admin formset and the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from django_experiments import validation as v
from django_experiments.validation import TreatmentRow, parse_weight, validate_treatment_rows


def _messages(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return list(exc.value.messages)


def _codes(exc: pytest.ExceptionInfo[ValidationError]) -> list[str | None]:
    return [e.code for e in exc.value.error_list]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", Decimal(1)),
        (" 2.5 ", Decimal("2.5")),
        (0, Decimal(0)),
        (3, Decimal(3)),
        (0.25, Decimal("0.25")),
        (Decimal("7"), Decimal(7)),
        ("1e2", Decimal(100)),
    ],
)
def test_parse_weight_accepts_numbers(raw: Any, expected: Decimal) -> None:
    assert parse_weight(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message", "code"),
    [
        ("abc", v.MSG_NOT_A_NUMBER.format(value="abc"), "weight_type"),
        ("", v.MSG_NOT_A_NUMBER.format(value=""), "weight_type"),
        (None, v.MSG_NOT_A_NUMBER.format(value=None), "weight_type"),
        (True, v.MSG_NOT_A_NUMBER.format(value=True), "weight_type"),
        ([1], v.MSG_NOT_A_NUMBER.format(value=[1]), "weight_type"),
        (float("nan"), v.MSG_NOT_FINITE.format(value="NaN"), "weight_finite"),
        ("nan", v.MSG_NOT_FINITE.format(value="NaN"), "weight_finite"),
        ("inf", v.MSG_NOT_FINITE.format(value="Infinity"), "weight_finite"),
        (Decimal("-Infinity"), v.MSG_NOT_FINITE.format(value="-Infinity"), "weight_finite"),
        (-1, v.MSG_NEGATIVE.format(value=-1), "weight_negative"),
        ("-0.5", v.MSG_NEGATIVE.format(value="-0.5"), "weight_negative"),
    ],
)
def test_parse_weight_rejects_with_a_clear_message(raw: Any, message: str, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_weight(raw)
    assert _messages(exc) == [message]
    assert _codes(exc) == [code]


def _rows(*specs: tuple[str, Any, bool]) -> list[TreatmentRow]:
    return [TreatmentRow(name, Decimal(str(weight)), control) for name, weight, control in specs]


def test_good_rows_pass_for_every_status() -> None:
    rows = _rows(("control", 1, True), ("candidate", 0, False))
    for status in ("draft", "running", "paused", "concluded"):
        validate_treatment_rows(status, rows)
    validate_treatment_rows("draft", [])


def test_negative_and_nan_weights_in_rows() -> None:
    rows = _rows(("control", 1, True), ("b", -2, False), ("c", "NaN", False))
    with pytest.raises(ValidationError) as exc:
        validate_treatment_rows("draft", rows)
    assert _messages(exc) == [
        "b: " + v.MSG_NEGATIVE.format(value=Decimal(-2)),
        "c: " + v.MSG_NOT_FINITE.format(value="NaN"),
    ]


def test_all_zero_weights_only_matter_when_running() -> None:
    rows = _rows(("control", 0, True), ("b", 0, False))
    validate_treatment_rows("draft", rows)
    validate_treatment_rows("paused", rows)
    with pytest.raises(ValidationError) as exc:
        validate_treatment_rows("running", rows)
    assert _messages(exc) == [v.MSG_NO_POSITIVE]
    assert _codes(exc) == ["no_positive_weight"]


def test_running_needs_treatments() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_treatment_rows("running", [])
    assert _messages(exc) == [v.MSG_NO_TREATMENTS]


def test_duplicate_names() -> None:
    rows = _rows(("control", 1, True), ("b", 1, False), ("b", 1, False), ("a", 1, False))
    rows += _rows(("a", 1, False))
    with pytest.raises(ValidationError) as exc:
        validate_treatment_rows("draft", rows)
    assert _messages(exc) == [v.MSG_DUPLICATE.format(names="a, b")]
    assert _codes(exc) == ["duplicate"]


def test_no_control() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_treatment_rows("draft", _rows(("a", 1, False), ("b", 1, False)))
    assert _messages(exc) == [v.MSG_NO_CONTROL]
    assert _codes(exc) == ["no_control"]


def test_several_controls() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_treatment_rows("draft", _rows(("a", 1, True), ("b", 1, True), ("c", 1, False)))
    assert _messages(exc) == [v.MSG_SEVERAL_CONTROLS.format(count=2, names="a, b")]
    assert _codes(exc) == ["several_controls"]


def test_every_problem_is_reported_at_once() -> None:
    rows = _rows(("a", 0, False), ("a", -1, False))
    with pytest.raises(ValidationError) as exc:
        validate_treatment_rows("running", rows)
    assert set(_codes(exc)) == {"weight", "duplicate", "no_control", "no_positive_weight"}
