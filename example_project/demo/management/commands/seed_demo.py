"""Create the demo experiments and a local admin user (idempotent)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from django_experiments.engine.registry import registered
from django_experiments.models import Experiment, Status, Treatment

DEMO = {
    "cta": {
        "description": "Wording of the sign-up button on the landing page.",
        "hypothesis": "An action-oriented label raises sign-ups.",
        "treatments": [
            ("control", 1, {"label": "Sign up"}),
            ("candidate", 1, {"label": "Start your free trial"}),
        ],
    },
}


class Command(BaseCommand):
    help = "Seed the demo experiments (running) and an admin/admin superuser for local use."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            for name, spec in DEMO.items():
                self._experiment(name, spec["treatments"], spec["description"], spec["hypothesis"])
            # Code-defined experiments need an admin row too: seed one per registered class.
            for name, cls in registered().items():
                variants = getattr(cls, "_class_behaviors", {}) or {"control": None}
                names = ["control", *[v for v in variants if v != "control"]]
                self._experiment(name, [(v, 1, {}) for v in names], cls.__doc__ or "", "")
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("created superuser admin/admin (local demo only)")
        self.stdout.write(self.style.SUCCESS("demo experiments ready"))

    def _experiment(
        self,
        name: str,
        treatments: list[tuple[str, int, dict[str, Any]]],
        description: str,
        hypothesis: str,
    ) -> None:
        exp, created = Experiment.objects.get_or_create(
            name=name,
            defaults={
                "description": description.strip(),
                "hypothesis": hypothesis,
                "client_visible": True,
            },
        )
        if not created:
            return
        for order, (tname, weight, payload) in enumerate(treatments):
            Treatment.objects.create(
                experiment=exp,
                name=tname,
                weight=weight,
                is_control=(order == 0),
                payload=payload,
                order=order,
            )
        exp.status = Status.RUNNING
        exp.save()
        self.stdout.write(f"seeded experiment {name!r}")
