"""Admin for the tracking pipeline: dead letters (with re-drive) and the outbox.

Self-registering: ``django_experiments/admin.py`` imports this module.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_experiments.tracking.models import DeadLetter, OutboxBatch


def _pretty(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True)[:20000])


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ("id", "sink", "state", "event_count", "attempts", "redrive_count", "created_at")
    list_filter = ("state", "sink")
    search_fields = ("sink", "last_error")
    date_hierarchy = "created_at"
    actions = ["redrive_selected"]
    readonly_fields = (
        "sink",
        "state",
        "event_count",
        "attempts",
        "redrive_count",
        "last_error",
        "created_at",
        "updated_at",
        "redriven_at",
        "events_pretty",
    )
    exclude = ("events",)

    @admin.display(description=_("events"))
    def events_pretty(self, obj: DeadLetter) -> str:
        return _pretty(obj.events)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Viewable, never editable: a dead letter is a record of what failed.
        return False

    @admin.action(description=_("Re-drive selected dead letters"), permissions=["redrive"])
    def redrive_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        from django_experiments.tracking.delivery import redrive

        count = redrive(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d dead letter re-driven.",
                "%(count)d dead letters re-driven.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    def has_redrive_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.delete_{opts.model_name}")


@admin.register(OutboxBatch)
class OutboxBatchAdmin(admin.ModelAdmin):
    list_display = ("id", "event_count", "sinks", "attempt", "available_at", "created_at")
    readonly_fields = (
        "sinks",
        "attempt",
        "dead_letter_id",
        "available_at",
        "created_at",
        "last_error",
        "events_pretty",
    )
    exclude = ("events",)
    actions = ["drain_now"]

    @admin.display(description=_("events"))
    def event_count(self, obj: OutboxBatch) -> int:
        return len(obj.events or [])

    @admin.display(description=_("events"))
    def events_pretty(self, obj: OutboxBatch) -> str:
        return _pretty(obj.events)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Drain the outbox now"), permissions=["delete"])
    def drain_now(self, request: HttpRequest, queryset: QuerySet[OutboxBatch]) -> None:
        from django_experiments.tracking.outbox import drain

        result = drain()
        level = messages.WARNING if result.broker_down else messages.SUCCESS
        self.message_user(
            request,
            _("%(drained)d batches drained, %(remaining)d due left%(down)s.")
            % {
                "drained": result.drained,
                "remaining": result.remaining,
                "down": " (broker unavailable)" if result.broker_down else "",
            },
            level,
        )
