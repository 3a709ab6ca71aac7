"""The admin's weight input: any string becomes a weight or a form error, never a 500.

Django's ``DecimalField`` accepts ``"sNaN"`` in ``to_python`` and then compares it in
``has_changed``, where a signalling NaN raises ``decimal.InvalidOperation``. Parsing with
:func:`django_experiments.validation.parse_weight` turns every non-finite, negative or
non-numeric input into a ValidationError first (``has_changed`` then reports a change, and
``clean`` the error), with the same message as the model and the API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import formats

from django_experiments.validation import parse_weight


class WeightField(forms.DecimalField):
    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # stubs: int
        if value in self.empty_values:
            return None
        if self.localize:
            value = formats.sanitize_separators(value)
        return parse_weight(value)
