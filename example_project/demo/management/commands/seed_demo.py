"""Create the demo experiments, a local admin user and simulated traffic (idempotent)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from django_experiments.engine.registry import registered
from django_experiments.models import Experiment, Status, Treatment
from django_experiments.tracking.models import TrackedEvent

# One running experiment per demo page. Code-defined classes (demo/experiments.py) get their
# rows from the registry, with one treatment per behaviour.
DEMO: dict[str, dict[str, Any]] = {
    "cta": {
        "description": "Wording of the sign-up button on the landing page (/).",
        "hypothesis": "An action-oriented label raises sign-ups.",
        "treatments": [
            ("control", 1, {"label": "Sign up"}),
            ("candidate", 1, {"label": "Start your free trial"}),
        ],
    },
    "pricing": {
        "description": "Monthly price shown on /pricing/ (the treatment's payload).",
        "hypothesis": "A lower price makes more visitors look further.",
        "treatments": [
            ("control", 1, {"price": "12"}),
            ("discount", 1, {"price": "9"}),
        ],
    },
}


# Simulated traffic per experiment: the page's conversion event, control's rate, the relative
# lift of the other variants, and a valued event some converters also send ("" for none).
TRAFFIC: dict[str, tuple[str, float, float, str]] = {
    "cta": ("clicked", 0.10, 0.6, ""),
    "pricing": ("visited", 0.30, 0.3, "purchase"),
    "headline": ("subscribed", 0.08, 0.5, ""),
}


class Command(BaseCommand):
    help = (
        "Seed the demo experiments (running), an admin/admin superuser for local use, and "
        "simulated visitors so the results pages have data."
    )
    # The code-defined ``headline`` class has no admin row until this command creates it, so
    # the checks would warn (W105) about exactly what is being fixed; they run after seeding.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--visitors",
            type=int,
            default=500,
            help="Simulated visitors per experiment, when none of them has events yet.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            for name, spec in DEMO.items():
                self._experiment(name, spec["treatments"], spec["description"], spec["hypothesis"])
            for name, cls in registered().items():
                variants = getattr(cls, "_class_behaviors", {}) or {"control": None}
                names = ["control", *[v for v in variants if v != "control"]]
                self._experiment(name, [(v, 1, {}) for v in names], cls.__doc__ or "", "")
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("created superuser admin/admin (local demo only)")
        self._traffic(options["visitors"])
        self.check()
        self.stdout.write(self.style.SUCCESS("demo experiments ready"))

    def _traffic(self, visitors: int) -> None:
        names = [*TRAFFIC, *DEMO, *registered()]
        if visitors <= 0 or TrackedEvent.objects.filter(experiment__in=names).exists():
            return
        # simulate_traffic: each visitor resolved and tracked through the public API, its
        # scope flushed as the middleware flushes a request's, events through Celery (eager
        # here) into the database sink. One seed: the same visitors see every experiment.
        with _quiet("django_experiments.events"):  # one log line per event is for real traffic
            for name, (event, rate, lift, value_event) in TRAFFIC.items():
                self.stdout.write(f"{name}: {visitors} simulated visitors ...")
                call_command(
                    "simulate_traffic",
                    name,
                    visitors=visitors,
                    rate=rate,
                    lift=lift,
                    event=event,
                    value_event=value_event,
                    seed=13,
                    stdout=self.stdout,
                    stderr=self.stderr,
                )

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


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
