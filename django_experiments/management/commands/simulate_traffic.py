"""``manage.py simulate_traffic cta --visitors 5000 --lift 0.05``: fake visitors, real pipeline.

Each simulated visitor is one request scope: the experiment is resolved through the public
API (``experiment(name, actor=...)`` then ``run()``, which records the exposure), a conversion
is tracked with ``track()`` at the variant's rate, and the scope is flushed the way the
middleware flushes it at response end. The events then travel the configured tracking path
(Celery, eager or a real worker, into the sinks); with the database sink the results page
fills up. Nothing is written to the database directly.
"""

from __future__ import annotations

import random
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_experiments.conf import settings


class Command(BaseCommand):
    help = (
        "Simulate visitors of a running experiment through the real resolution and tracking "
        "path: each is exposed (run()) and converts at --rate, times (1 + --lift) outside "
        "control."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("experiment", help="name of a running experiment")
        parser.add_argument("--visitors", type=int, default=1000, help="default 1000")
        parser.add_argument(
            "--rate", type=float, default=0.1, help="control's conversion rate (default 0.1)"
        )
        parser.add_argument(
            "--lift",
            type=float,
            default=0.0,
            help="relative lift of every other variant's rate, e.g. 0.05 for +5%% (default 0)",
        )
        parser.add_argument("--event", default="clicked", help="conversion event name")
        parser.add_argument(
            "--value-event",
            default="purchase",
            help="a valued event tracked by some converters ('' for none; default purchase)",
        )
        parser.add_argument(
            "--mean-value", type=float, default=20.0, help="mean purchase value (default 20)"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable)")
        parser.add_argument(
            "--prefix",
            default="sim",
            help="actor id prefix; a new prefix gives new visitors (default sim)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from django_experiments import experiment
        from django_experiments.engine.definitions import get_definition
        from django_experiments.engine.scope import Scope, activate
        from django_experiments.models import Experiment, Status
        from django_experiments.tracking.producer import flush_scope

        name: str = options["experiment"]
        visitors: int = options["visitors"]
        rate: float = options["rate"]
        lift: float = options["lift"]
        if visitors < 1:
            raise CommandError("--visitors must be at least 1")
        if not 0 <= rate <= 1:
            raise CommandError("--rate must be between 0 and 1")
        if not 0 <= rate * (1 + lift) <= 1:
            raise CommandError("--rate × (1 + --lift) must be between 0 and 1")
        row = Experiment.objects.filter(name=name).first()
        if row is None:
            raise CommandError(f"No experiment named {name!r} (create it in the admin first)")
        if row.status != Status.RUNNING:
            raise CommandError(
                f"{name!r} is {row.status}: only a running experiment records exposures"
            )
        if "django_experiments.tracking.sinks.DatabaseSink" not in settings.TRACKING_SINKS:
            self.stderr.write(
                "TRACKING_SINKS has no DatabaseSink: the events leave, but the admin results "
                "page will not see them."
            )
        # The control the engine and the report use (loader.py: the marked one, else the first).
        definition = get_definition(name)
        control = definition.control if definition is not None else "control"
        rng = random.Random(options["seed"])
        prefix = f"{options['prefix']}-{options['seed'] if options['seed'] is not None else ''}"
        counts: dict[str, list[int]] = {}
        started = time.monotonic()
        for i in range(visitors):
            # As a request: the scope holds the visitor's events until it closes.
            with activate(Scope(deferring=True)) as scope:
                exp = experiment(name, actor=f"{prefix}-{i}")
                exp.run()
                variant = exp.assigned.name
                seen = counts.setdefault(variant, [0, 0])
                seen[0] += 1
                p = rate if variant == control else rate * (1 + lift)
                if rng.random() < p:
                    seen[1] += 1
                    exp.track(options["event"])
                    if options["value_event"] and rng.random() < 0.5:
                        value = round(rng.expovariate(1 / options["mean_value"]), 2)
                        exp.track(options["value_event"], value=value)
            flush_scope(scope)
        elapsed = time.monotonic() - started
        for variant, (exposed, converted) in sorted(counts.items()):
            self.stdout.write(f"{variant}: {exposed} visitors, {converted} converted")
        self.stdout.write(
            self.style.SUCCESS(
                f"{visitors} visitors of {name!r} simulated in {elapsed:.1f} s; events went "
                "through the tracking pipeline (a real Celery worker must be running unless "
                "CELERY_TASK_ALWAYS_EAGER)."
            )
        )
