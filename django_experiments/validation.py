"""Validation shared by model ``full_clean()``, the admin formset and the API.

One code path so that a rule and its message cannot drift between entry points.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from django_experiments.models import Treatment

MSG_NOT_A_NUMBER = "Weight must be a number, got {value!r}."
MSG_TOO_LONG = "Weight must be a number of at most {limit} characters."
MSG_NOT_FINITE = "Weight must be a finite number, got {value!r}."
MSG_NEGATIVE = "Weight must be 0 or more, got {value}."
MSG_NO_POSITIVE = "A running experiment needs at least one treatment with a weight above 0."
MSG_DUPLICATE = "Treatment names must be unique within an experiment; repeated: {names}."
MSG_NO_CONTROL = "Exactly one treatment must be the control; none is marked."
MSG_SEVERAL_CONTROLS = "Exactly one treatment must be the control; {count} are marked: {names}."
MSG_NO_TREATMENTS = "A running experiment needs treatments."
MSG_WINNER = "The winner must be one of this experiment's treatments."


#: Longer input is no weight the database can hold (12 digits) under any spelling we accept.
MAX_WEIGHT_INPUT = 100


def _shown(value: Any) -> Any:
    """``value`` for an error message, cut short: a message must not echo a megabyte back."""
    return value if len(repr(value)) <= 40 else f"{str(value)[:37]}..."


def parse_weight(value: Any) -> Decimal:
    """Turn user input into a weight, or raise ValidationError with a clear message."""
    if isinstance(value, bool):
        raise ValidationError(MSG_NOT_A_NUMBER.format(value=value), code="weight_type")
    if isinstance(value, str) and len(value) > MAX_WEIGHT_INPUT:
        # Decimal() of a megabyte of digits is slow and the number is out of range anyway.
        raise ValidationError(MSG_TOO_LONG.format(limit=MAX_WEIGHT_INPUT), code="weight_length")
    weight: Decimal | None = None
    if isinstance(value, Decimal):
        weight = value
    elif isinstance(value, (str, int, float)):
        try:
            weight = Decimal(str(value).strip())
        except InvalidOperation:
            weight = None
    if weight is None:
        raise ValidationError(MSG_NOT_A_NUMBER.format(value=_shown(value)), code="weight_type")
    validate_weight(weight)
    # "-0" is a weight of 0; keep the sign out of the database and the admin's display.
    return weight.copy_abs() if weight.is_zero() else weight


def validate_weight(weight: Decimal | None) -> None:
    if weight is None:
        raise ValidationError(MSG_NOT_A_NUMBER.format(value=weight), code="weight_type")
    if not weight.is_finite():
        raise ValidationError(MSG_NOT_FINITE.format(value=str(weight)), code="weight_finite")
    if weight < 0:
        raise ValidationError(MSG_NEGATIVE.format(value=weight), code="weight_negative")


@dataclass(frozen=True)
class TreatmentRow:
    name: str
    weight: Decimal
    is_control: bool

    @classmethod
    def from_model(cls, treatment: Treatment) -> TreatmentRow:
        return cls(treatment.name, Decimal(treatment.weight), bool(treatment.is_control))


def validate_treatment_rows(status: str, rows: Iterable[TreatmentRow]) -> None:
    """Rules over an experiment's whole treatment set; raises one error listing every problem."""
    rows = list(rows)
    messages: list[ValidationError] = []
    for row in rows:
        try:
            validate_weight(row.weight)
        except ValidationError as exc:
            messages.append(ValidationError(f"{row.name}: {exc.messages[0]}", code="weight"))
    counts = Counter(row.name for row in rows)
    repeated = sorted(name for name, n in counts.items() if n > 1)
    if repeated:
        messages.append(
            ValidationError(MSG_DUPLICATE.format(names=", ".join(repeated)), code="duplicate")
        )
    if rows:
        controls = [row.name for row in rows if row.is_control]
        if not controls:
            messages.append(ValidationError(MSG_NO_CONTROL, code="no_control"))
        elif len(controls) > 1:
            messages.append(
                ValidationError(
                    MSG_SEVERAL_CONTROLS.format(count=len(controls), names=", ".join(controls)),
                    code="several_controls",
                )
            )
    if status == "running":
        if not rows:
            messages.append(ValidationError(MSG_NO_TREATMENTS, code="no_treatments"))
        elif not any(row.weight.is_finite() and row.weight > 0 for row in rows):
            messages.append(ValidationError(MSG_NO_POSITIVE, code="no_positive_weight"))
    if messages:
        raise ValidationError(messages)


def format_weight(value: Decimal | int | float | str) -> str:
    """A weight as people write it: "1", "0.5", "100" (``normalize()`` alone gives "1E+2")."""
    return format(Decimal(value).normalize(), "f")
