"""Create an experiment and its treatments from code as one change (one transaction, one phase).

Phases are recorded when a transaction commits (``services.schedule_phase_check``). Rows saved
one by one in autocommit mode (``manage.py shell`` without ``transaction.atomic()``) are one
commit each: the experiment, then each treatment, each opening a phase. ``create_experiment``
validates everything first and saves it in a single transaction, so the experiment starts with
exactly one phase holding the final weights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from django_experiments.models import Experiment, Status, Treatment
from django_experiments.validation import TreatmentRow, parse_weight, validate_treatment_rows

Weight = Decimal | int | float | str


def create_experiment(
    name: str,
    treatments: Mapping[str, Weight],
    *,
    status: str = Status.DRAFT,
    control: str | None = None,
    payloads: Mapping[str, dict[str, Any]] | None = None,
    **fields: Any,
) -> Experiment:
    """Create ``name`` with ``treatments`` (name → relative weight, in display order).

    ``control`` names the control treatment: by default the one called ``"control"``, else
    the first. ``payloads`` maps treatment names to their JSON payloads. ``status`` is
    ``"draft"`` (default), ``"running"``, ``"paused"`` or ``"concluded"``; other keyword
    arguments are ``Experiment`` fields (``description``, ``hypothesis``, ``client_visible``).

    Raises ``ValidationError`` (nothing saved) for a bad name, weight, control, payload or
    status, with the same messages as the admin.
    """
    payloads = dict(payloads or {})
    control_name = _control_of(treatments, control)
    unknown = sorted(set(payloads) - set(treatments))
    if unknown:
        raise ValidationError(
            {"payloads": f"Payloads for unknown treatments: {', '.join(unknown)}."}
        )
    for tname, payload in payloads.items():
        try:
            json.dumps(payload)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                {"payloads": f"The payload of {tname} is not JSON-serialisable: {exc}."}
            ) from exc
    if status not in Status.values:
        raise ValidationError(
            {"status": f"Unknown status {status!r}; use one of {', '.join(Status.values)}."}
        )
    weights = {tname: _weight(tname, value) for tname, value in treatments.items()}
    validate_treatment_rows(
        status,
        [TreatmentRow(tname, w, tname == control_name) for tname, w in weights.items()],
    )
    now = timezone.now()
    experiment = Experiment(
        name=name,
        status=status,
        started_at=now if status in (Status.RUNNING, Status.PAUSED, Status.CONCLUDED) else None,
        concluded_at=now if status == Status.CONCLUDED else None,
        **fields,
    )
    with transaction.atomic():
        experiment.full_clean()
        experiment.save()
        for order, (tname, weight) in enumerate(weights.items()):
            treatment = Treatment(
                experiment=experiment,
                name=tname,
                weight=weight,
                is_control=(tname == control_name),
                payload=payloads.get(tname, {}),
                order=order,
            )
            treatment.full_clean()
            treatment.save()
    return experiment


def _control_of(treatments: Mapping[str, Weight], control: str | None) -> str:
    if not treatments:
        raise ValidationError({"treatments": "An experiment needs at least one treatment."})
    if control is None:
        return "control" if "control" in treatments else next(iter(treatments))
    if control not in treatments:
        raise ValidationError({"control": f"The control {control!r} is not one of the treatments."})
    return control


def _weight(name: str, value: Weight) -> Decimal:
    try:
        return parse_weight(value)
    except ValidationError as exc:
        raise ValidationError({"treatments": f"{name}: {exc.messages[0]}"}) from exc
