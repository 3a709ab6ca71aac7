"""Admin for namespaces (with their allocation bar) and the global holdout.

Self-registering: ``django_experiments/admin.py`` imports this module, and uses
:func:`allocation_bar` on the experiment's own page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from django_experiments.engine import allocation, namespaces
from django_experiments.models import Experiment, GlobalHoldout, Namespace
from django_experiments.namespace_validation import percent_text
from django_experiments.populations import members_of, table_of

TEMPLATE = "admin/django_experiments/namespace/allocation_bar.html"

#: Distinguishable at a glance, and readable with white borders between neighbours.
PALETTE = ("#417690", "#e08e0b", "#5b8c3a", "#b04a8c", "#2a9d8f", "#c0504d", "#7a6fb0")


def _ranges_text(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{start}–{stop - 1}" for start, stop in ranges)


def _share(slots: int) -> str:
    return percent_text(slots / 100)


def allocation_context(namespace: Namespace, highlight: int | None = None) -> dict[str, Any]:
    """The bar's segments and legend: the holdout, each experiment, and the free space."""
    experiments = list(Experiment.objects.filter(namespace=namespace).order_by("pk"))
    members = members_of(namespace, experiments)
    table = table_of(namespace, members)
    by_owner: dict[str, list[tuple[int, int]]] = {}
    for start, stop, owner in table:
        by_owner.setdefault(owner, []).append((start, stop))
    owned = allocation.expand(table)
    unowned = [namespaces.FREE if owner is None else None for owner in owned]
    free = [(start, stop) for start, stop, _ in allocation.compress(unowned)]
    rows: list[dict[str, Any]] = []
    holdout_ranges = by_owner.get(namespaces.HOLDOUT, [])
    if holdout_ranges:
        rows.append(_row(str(_("holdout")), "holdout", holdout_ranges))
    for i, experiment in enumerate(experiments):
        row = _row(experiment.name, "experiment", by_owner.get(str(experiment.pk), []))
        row["color"] = PALETTE[i % len(PALETTE)]
        row["highlight"] = experiment.pk == highlight
        row["url"] = reverse("admin:django_experiments_experiment_change", args=[experiment.pk])
        rows.append(row)
    rows.append(_row(str(_("free")), "free", free))
    segments = [
        {
            "kind": row["kind"],
            "label": row["label"],
            "color": row.get("color"),
            "highlight": row.get("highlight", False),
            "left": _share(start),
            "width": _share(stop - start),
            "range": f"{start}–{stop - 1}",
        }
        for row in rows
        for start, stop in row["slot_ranges"]
    ]
    requested = [n for _, n in members]
    return {
        "namespace": namespace.name,
        "owners": rows,
        "segments": segments,
        "over_allocated": namespaces.over_allocated(
            namespaces.slots_of(namespace.holdout_percent), members
        ),
        "requested": _share(sum(requested)),
    }


def _row(label: str, kind: str, ranges: list[tuple[int, int]]) -> dict[str, Any]:
    return {
        "label": label,
        "kind": kind,
        "slot_ranges": ranges,
        "ranges": _ranges_text(ranges),
        "share": _share(sum(stop - start for start, stop in ranges)),
    }


def allocation_bar(namespace: Namespace, highlight: int | None = None) -> SafeString:
    context = allocation_context(namespace, highlight)
    warning = (
        format_html(
            '<p class="errornote">{}</p>',
            _(
                "The shares add up to more than 100 % (saved around validation): experiments "
                "added last get only what is left. Lower a share."
            ),
        )
        if context["over_allocated"]
        else ""
    )
    # The template escapes every value it prints.
    return mark_safe(warning + render_to_string(TEMPLATE, context))  # noqa: S308


@admin.register(Namespace)
class NamespaceAdmin(admin.ModelAdmin):
    list_display = ("name", "holdout", "allocated", "updated_at")
    search_fields = ("name", "description")
    fields = ("name", "description", "salt", "holdout_percent", "allocation_bar")
    readonly_fields = ("allocation_bar",)

    class Media:
        css = {"all": ("django_experiments/admin/namespaces.css",)}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The salt places every context: changing it would reshuffle every experiment of
        # the namespace. It is chosen once (blank: the name) and then kept.
        if obj is not None and obj.pk is not None:
            return ("salt", "allocation_bar")
        return ("allocation_bar",)

    @admin.display(description=_("Holdout"), ordering="holdout_percent")
    def holdout(self, obj: Namespace) -> str:
        return f"{percent_text(obj.holdout_percent)} %"

    @admin.display(description=_("Allocated"))
    def allocated(self, obj: Namespace) -> str:
        members = list(obj.experiments.values_list("name", "namespace_share"))
        total = sum(namespaces.slots_of(share) for _, share in members)
        return f"{_share(total)} % ({len(members)} experiments)"

    @admin.display(description=_("Allocation"))
    def allocation_bar(self, obj: Namespace) -> str:
        if obj.pk is None:
            return "—"
        return allocation_bar(obj)


@admin.register(GlobalHoldout)
class GlobalHoldoutAdmin(admin.ModelAdmin):
    list_display = ("__str__", "percent", "updated_at")
    fields = ("percent", "salt", "updated_at")
    readonly_fields = ("salt", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row: the global holdout. The loader reads the first.
        return super().has_add_permission(request) and not GlobalHoldout.objects.exists()
