"""Set-up shared by the browser tests: experiments made through the ORM as an app would."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from django_experiments.admin import percent, shares_of
from django_experiments.models import Experiment, Status, Treatment

LABELS = {"control": "Sign up", "candidate": "Start your free trial"}


def make_cta(status: str = Status.RUNNING, **weights: float) -> Experiment:
    """The landing page's ``cta`` experiment with ``weights`` (default 1:1)."""
    weights = weights or {"control": 1, "candidate": 1}
    with transaction.atomic():
        exp = Experiment.objects.create(name="cta", status=Status.DRAFT)
        for order, (name, weight) in enumerate(weights.items()):
            Treatment.objects.create(
                experiment=exp,
                name=name,
                weight=Decimal(str(weight)),
                is_control=order == 0,
                order=order,
                payload={"label": LABELS.get(name, name)},
            )
        if status != Status.DRAFT:
            exp.status = status
            exp.save()
    return exp


def set_weights(exp: Experiment, **weights: float) -> None:
    """Change weights the way a data migration or a shell session would: one transaction."""
    with transaction.atomic():
        for treatment in exp.treatments.all():
            if treatment.name in weights:
                treatment.weight = Decimal(str(weights[treatment.name]))
                treatment.save()


def expected_shares(**weights: float) -> dict[str, str]:
    """The server's shares for ``weights``, formatted as the admin shows them."""
    rows = [Treatment(name=n, weight=Decimal(str(w))) for n, w in weights.items()]
    return {name: percent(share) + "%" for name, share in shares_of(rows).items()}


def variant_shown(page: Any, experiment: str = "cta") -> str:
    value = page.get_attribute(f"[data-experiment={experiment}]", "data-variant")
    assert value is not None
    return str(value)
