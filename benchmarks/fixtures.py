"""Experiment rows created through the ORM (as the admin would), then definitions warmed."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.management import call_command
from django.db import transaction

from django_experiments.engine import definitions
from django_experiments.models import Experiment, Status, Treatment


def migrate() -> None:
    call_command("migrate", verbosity=0, interactive=False)


def create_experiment(name: str, weights: Sequence[tuple[str, int]], running: bool = True) -> None:
    """Treatments first, then status → running: the order validation accepts."""
    with transaction.atomic():
        exp = Experiment.objects.create(name=name)
        for order, (treatment, weight) in enumerate(weights):
            Treatment.objects.create(
                experiment=exp,
                name=treatment,
                weight=weight,
                is_control=order == 0,
                order=order,
            )
        if running:
            exp.status = Status.RUNNING
            exp.save()


def create_namespace(name: str, shares: Sequence[tuple[str, int]]) -> None:
    """A namespace owning the named (existing) experiments, each with its share in percent."""
    from decimal import Decimal

    from django_experiments.models import Namespace

    with transaction.atomic():
        namespace = Namespace.objects.create(name=name)
        for experiment, share in shares:
            exp = Experiment.objects.get(name=experiment)
            exp.namespace, exp.namespace_share = namespace, Decimal(share)
            exp.full_clean()
            exp.save()


def equal_weights(n: int) -> list[tuple[str, int]]:
    return [("control", 1)] + [(f"v{i}", 1) for i in range(1, n)]


def warm() -> int:
    """Reload definitions now (the saving process already invalidated them); return count."""
    definitions.invalidate()
    return len(definitions.all_definitions())


def running_names() -> list[str]:
    return sorted(
        name for name, d in definitions.all_definitions().items() if d.status == "running"
    )


def ensure_running(n: int, prefix: str = "scale_") -> None:
    """Create 2-treatment running experiments until at least ``n`` are running."""
    have = len(running_names())
    for i in range(have, n):
        create_experiment(f"{prefix}{i:03d}", [("control", 50), ("candidate", 50)])
    warm()
