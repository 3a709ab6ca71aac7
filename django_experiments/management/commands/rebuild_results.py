"""``manage.py rebuild_results [experiment ...]``: recompute the results rollups from events.

The worker keeps the rollups current as batches land; rebuild after upgrading (events stored
before migration 0003 have no rollup rows yet) or after changing CONVERSION_WINDOWS.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_experiments.conf import settings


class Command(BaseCommand):
    help = "Recompute the results rollups of the named experiments (default: all) from events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("experiments", nargs="*", help="experiment names (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        from django_experiments.results import rollup
        from django_experiments.tracking.models import TrackedEvent

        names: list[str] = options["experiments"]
        # DISTINCT in the database: the events table may hold millions of rows.
        stored = sorted(
            TrackedEvent.objects.order_by().values_list("experiment", flat=True).distinct()
        )
        if names:
            wanted = [settings.full_name(name) for name in names]
            missing = [n for n, full in zip(names, wanted, strict=True) if full not in stored]
            if missing:
                raise CommandError(f"No stored events for: {', '.join(missing)}")
            stored = wanted
        for name in stored:
            started = time.monotonic()
            contexts = rollup.rebuild(name)
            self.stdout.write(f"{name}: {contexts} contexts in {time.monotonic() - started:.1f} s")
        self.stdout.write(self.style.SUCCESS(f"rebuilt {len(stored)} experiment(s)"))
