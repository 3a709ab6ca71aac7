"""``manage.py drain_outbox``: re-publish tracking batches the broker could not take."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Hand due tracking outbox batches back to Celery (or, with --inline, straight to the "
        "sinks), and with the 'redis' hand-off its Redis list too. Exits non-zero when the "
        "broker is still unavailable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=1000, help="Most batches to drain.")
        parser.add_argument(
            "--inline",
            action="store_true",
            help="Deliver in this process instead of publishing tasks (no broker needed).",
        )
        parser.add_argument(
            "--flush",
            action="store_true",
            help="Also ship this process's buffered events first (tracking.flush()).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from django_experiments.tracking import flush, redis_handoff
        from django_experiments.tracking.outbox import drain, drain_redis

        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        if options["flush"]:
            flush()
        broker_down = False
        if redis_handoff.configured():
            moved = drain_redis(inline=options["inline"])
            broker_down = moved.broker_down
            self.stdout.write(
                f"moved {moved.events} event(s) of {moved.drained} hand-over(s) from Redis"
                + (f" ({moved.recovered} recovered from a dead drain)" if moved.recovered else "")
            )
        result = drain(options["limit"], inline=options["inline"])
        self.stdout.write(
            f"drained {result.drained} batch(es); {result.remaining} due batch(es) left"
        )
        if result.broker_down or broker_down:
            raise CommandError("the broker is unavailable; batches stay in the outbox")
