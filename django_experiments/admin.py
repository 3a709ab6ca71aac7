"""Admin: experiments with a treatment inline, live share preview, phases and status actions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from django_experiments import services
from django_experiments.admin_namespaces import allocation_bar
from django_experiments.engine import allocation
from django_experiments.models import Experiment, Phase, Treatment
from django_experiments.tracking import admin as _tracking_admin  # noqa: F401 - registers
from django_experiments.validation import (
    TreatmentRow,
    format_weight,
    validate_treatment_rows,
)
from django_experiments.weight_field import WeightField

#: The row attribute that carries the changelist page's SRM p-value (ExperimentAdmin).
_SRM_P = "glex_srm_p_value"


def shares_of(treatments: list[Treatment]) -> dict[str, float]:
    """Effective shares (percent) as the slot table will give them."""
    counts = allocation.slot_counts([(t.name, t.weight) for t in treatments])
    return {name: 100 * n / allocation.SLOTS for name, n in counts.items()}


def percent(share: float) -> str:
    """A share as the admin shows it everywhere: "50", "33.33", never "50.00"."""
    return f"{share:.2f}".rstrip("0").rstrip(".")


class WeightInput(forms.NumberInput):
    """A weight as people write it ("1", "0.5"), not as the column stores it ("1.0000")."""

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, Decimal) and value.is_finite():
            return format_weight(value)
        return super().format_value(value)


class TreatmentForm(forms.ModelForm):
    class Meta:
        model = Treatment
        fields = ("order", "name", "weight", "is_control", "payload")
        # Any weight string is a form error, never a 500 (weight_field.py).
        field_classes = {"weight": WeightField}
        # Compact widgets: the inline has to fit a 1280 px window with the share column.
        widgets = {
            "order": forms.NumberInput(attrs={"class": "glex-order"}),
            "name": forms.TextInput(attrs={"size": 16}),
            "weight": WeightInput(attrs={"class": "glex-weight"}),
            "payload": forms.Textarea(attrs={"rows": 2, "cols": 32, "class": "glex-payload"}),
        }


class TreatmentFormSet(BaseInlineFormSet):
    """Validates the whole posted treatment set with the same rules as the model and the API.

    A new treatment left at the default order (0) while an earlier row already has it goes
    after the rows above it, so rows added without the admin's JavaScript do not all share 0.
    """

    def save_new(self, form: forms.ModelForm, commit: bool = True) -> Any:
        if "order" not in form.changed_data:
            above = self._orders_above(form)
            if form.instance.order in above:
                form.instance.order = max(above) + 1
        return super().save_new(form, commit=commit)

    def _orders_above(self, new: forms.ModelForm) -> list[int]:
        # Existing rows come first in the formset, and earlier new rows were already given
        # their order, so each instance above ``new`` carries the order it will be saved with.
        orders = []
        for form in self.forms:
            if form is new:
                break
            if not (getattr(form, "cleaned_data", None) or {}).get("DELETE"):
                orders.append(form.instance.order)
        return orders

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("name"):
                continue
            rows.append(TreatmentRow(data["name"], data["weight"], bool(data.get("is_control"))))
        validate_treatment_rows(self.instance.status, rows)


class TreatmentInline(admin.TabularInline):
    model = Treatment
    form = TreatmentForm
    formset = TreatmentFormSet
    extra = 0
    fields = ("order", "name", "weight", "is_control", "payload")
    classes = ("glex-treatments",)


class PhaseInline(admin.TabularInline):
    model = Phase
    extra = 0
    can_delete = False
    fields = ("number", "reason", "started_at", "ended_at", "change", "editor")
    readonly_fields = fields
    ordering = ("-number",)
    verbose_name_plural = _("Phases (every change of weights, salt or population)")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("Change"))
    def change(self, obj: Phase) -> str:
        return obj.describe_change()

    @admin.display(description=_("Changed by"), ordering="changed_by_label")
    def editor(self, obj: Phase) -> str:
        return editor_of(obj)


def editor_of(phase: Phase) -> str:
    """Who made the change, as recorded then (the label outlives a deleted user)."""
    return phase.changed_by_label or "—"


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = (
            "name",
            "status",
            "winner",
            "client_visible",
            "description",
            "hypothesis",
            "namespace",
            "namespace_share",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The treatment inline validates the posted treatments; the model's own check of the
        # stored treatments would judge the old set while the new one is being saved.
        self.instance._treatments_validated_by_formset = True
        if "winner" in self.fields:
            field = self.fields["winner"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = (
                Treatment.objects.filter(experiment=self.instance)
                if self.instance.pk
                else Treatment.objects.none()
            )


class ExperimentActionForm(ActionForm):
    winner = forms.CharField(
        required=False,
        label=_("Winner (treatment name, for “conclude”)"),
        widget=forms.TextInput(attrs={"size": 12}),
    )


@contextmanager
def _editor(request: HttpRequest) -> Iterator[None]:
    with services.changed_by(getattr(request, "user", None)):
        yield


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    action_form = ExperimentActionForm
    inlines = [TreatmentInline, PhaseInline]
    list_display = (
        "name",
        "status",
        "treatment_shares",
        "phase_started",
        "srm_flag",
        "updated_at",
    )
    list_filter = ("status", "client_visible", "namespace")
    search_fields = ("name", "description", "hypothesis")
    readonly_fields = (
        "results_link",
        "code_class",
        "share_preview",
        "salt",
        "namespace_range",
        "created_at",
        "updated_at",
        "started_at",
        "concluded_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "status",
                    "winner",
                    "client_visible",
                    "code_class",
                    "results_link",
                )
            },
        ),
        (_("Why"), {"fields": ("description", "hypothesis")}),
        (_("Allocation"), {"fields": ("share_preview", "salt")}),
        (
            _("Namespace"),
            {"fields": ("namespace", "namespace_share", "namespace_range")},
        ),
        (
            _("Dates"),
            {
                "fields": ("created_at", "updated_at", "started_at", "concluded_at"),
                "classes": ("collapse",),
            },
        ),
    )
    actions = ["start", "pause", "conclude", "rerandomise", "clear_assignments"]

    class Media:
        js = ("django_experiments/admin/preview.js",)
        css = {
            "all": (
                "django_experiments/admin/preview.css",
                "django_experiments/admin/namespaces.css",
            )
        }

    def get_inlines(self, request: HttpRequest, obj: Experiment | None) -> list[Any]:
        # A new experiment has no phases yet: no empty Phases table on the Add page.
        return [TreatmentInline] if obj is None else [TreatmentInline, PhaseInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Experiment]:
        current = Phase.objects.filter(experiment=OuterRef("pk"), ended_at__isnull=True)
        return (
            super()
            .get_queryset(request)
            .prefetch_related("treatments")
            .annotate(phase_start=Subquery(current.order_by("-number").values("started_at")[:1]))
        )

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        """The changelist, with every row's SRM p-value computed for the page at once (one
        cache read and at most one grouped query, instead of a lookup per row)."""
        from django_experiments.results.srm import p_values

        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        values = p_values(rows)
        for row in rows:
            setattr(row, _SRM_P, values[row.pk])
        return changelist

    @admin.display(description=_("Treatments (effective share)"))
    def treatment_shares(self, obj: Experiment) -> str:
        treatments = list(obj.treatments.all())
        shares = shares_of(treatments)
        return format_html_join(
            ", ",
            "{}{}: {}%",
            (
                (
                    t.name,
                    " ★" if t.is_control else "",
                    percent(shares[t.name]),
                )
                for t in treatments
            ),
        )

    @admin.display(description=_("Code"))
    def code_class(self, obj: Experiment) -> str:
        """The registered class of the same name, and any mismatch with this row."""
        from django_experiments.class_checks import problems_for
        from django_experiments.engine.registry import registered

        cls = registered().get(obj.name)
        if cls is None:
            return "—"
        return format_html(
            "<code>{}.{}</code>{}",
            cls.__module__,
            cls.__qualname__,
            format_html_join(
                "", '<p class="errornote">{}</p>', ((p.message,) for p in problems_for(obj.name))
            ),
        )

    @admin.display(description=_("Phase started"), ordering="phase_start")
    def phase_started(self, obj: Experiment) -> Any:
        return getattr(obj, "phase_start", None) or "—"

    @admin.display(description=_("Range in the namespace"))
    def namespace_range(self, obj: Experiment) -> str:
        """The namespace's bar with this experiment's ranges outlined (saved values)."""
        if obj.pk is None or obj.namespace is None:
            return "—"
        return allocation_bar(obj.namespace, highlight=obj.pk)

    @admin.display(description=_("Effective shares"))
    def share_preview(self, obj: Experiment) -> str:
        treatments = list(obj.treatments.all()) if obj.pk else []
        shares = shares_of(treatments)
        rows = format_html_join(
            "",
            '<tr data-treatment="{}"><td>{}</td><td class="glex-share">{}%</td></tr>',
            ((t.name, t.name, percent(shares[t.name])) for t in treatments),
        )
        return format_html(
            '<table id="glex-share-preview"><thead><tr><th>{}</th><th>{}</th></tr></thead>'
            '<tbody>{}</tbody></table><p class="help">{}</p>',
            _("Treatment"),
            _("Share"),
            rows,
            _(
                "Updates live as you edit weights below; saved weights take effect in this "
                "process at once and in every other process within DEFINITIONS_TTL seconds."
            ),
        )

    def get_urls(self) -> list[Any]:
        def wrap(fn: Any) -> Any:
            return self.admin_site.admin_view(fn)

        return [
            path(
                "<path:object_id>/results/",
                wrap(self.results_view),
                name="django_experiments_experiment_results",
            ),
            path(
                "<path:object_id>/results.json",
                wrap(self.results_json_view),
                name="django_experiments_experiment_results_json",
            ),
            path(
                "<path:object_id>/results.csv",
                wrap(self.results_csv_view),
                name="django_experiments_experiment_results_csv",
            ),
            *super().get_urls(),
        ]

    def _viewable(self, request: HttpRequest, object_id: str) -> Experiment:
        experiment = self.get_object(request, object_id)
        if experiment is None or not self.has_view_permission(request, experiment):
            raise Http404
        return experiment

    def results_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from django_experiments.results import views

        experiment = self._viewable(request, object_id)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta}
        return views.results_page(request, experiment, context)

    def results_json_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from django_experiments.results import views

        return views.results_json(request, self._viewable(request, object_id))

    def results_csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from django_experiments.results import views

        return views.results_csv(request, self._viewable(request, object_id))

    @admin.display(description=_("SRM"))
    def srm_flag(self, obj: Experiment) -> str:
        """Red when the current phase's split is off its weights (SRM p < 0.001)."""
        from django_experiments.results.report import SRM_THRESHOLD
        from django_experiments.results.srm import current_srm_p_value

        # Computed for the whole page by get_changelist_instance; looked up alone otherwise.
        p_value = obj.__dict__[_SRM_P] if _SRM_P in obj.__dict__ else current_srm_p_value(obj)
        if p_value is None or p_value >= SRM_THRESHOLD:
            return "—"
        return format_html(
            '<span class="glex-srm-flag" style="color:#ba2121;font-weight:bold" '
            'title="{}">⚠ SRM</span>',
            _("Sample ratio mismatch: p = {}").format(f"{p_value:.2g}"),
        )

    @admin.display(description=_("Results"))
    def results_link(self, obj: Experiment) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("admin:django_experiments_experiment_results", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Results (current phase)"))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        with _editor(request):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Actions run inside the changelist view: attribute their phase changes too.
        with _editor(request):
            return super().changelist_view(request, extra_context)

    def _each(
        self, request: HttpRequest, queryset: QuerySet[Experiment], label: str, fn: Any
    ) -> None:
        done = []
        for experiment in queryset:
            try:
                fn(experiment)
            except ValidationError as exc:
                self.message_user(
                    request, f"{experiment.name}: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                done.append(experiment.name)
        if done:
            self.message_user(request, f"{label}: {', '.join(done)}", messages.SUCCESS)

    @admin.action(description=_("Start selected experiments"))
    def start(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._each(request, queryset, "Started", services.start)

    @admin.action(description=_("Pause selected experiments"))
    def pause(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._each(request, queryset, "Paused", services.pause)

    @admin.action(description=_("Conclude selected experiments (winner: name below)"))
    def conclude(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        winner_name = (request.POST.get("winner") or "").strip()

        def conclude_one(experiment: Experiment) -> None:
            winner = None
            if winner_name:
                winner = experiment.treatments.filter(name=winner_name).first()
                if winner is None:
                    raise ValidationError(f"has no treatment named {winner_name!r}; not concluded.")
            services.conclude(experiment, winner)

        self._each(request, queryset, "Concluded", conclude_one)

    @admin.action(description=_("Re-randomise (new salt, new phase)"))
    def rerandomise(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._each(request, queryset, "Re-randomised", services.rerandomise)

    @admin.action(description=_("Forget stored assignments"))
    def clear_assignments(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._each(request, queryset, "Cleared assignments of", services.clear_assignments)


@admin.register(Phase)
class PhaseAdmin(admin.ModelAdmin):
    list_display = (
        "experiment",
        "number",
        "reason",
        "started_at",
        "ended_at",
        "change",
        "editor",
    )
    list_filter = ("reason",)
    search_fields = ("experiment__name",)
    readonly_fields = [f.name for f in Phase._meta.fields] + ["change"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("Change"))
    def change(self, obj: Phase) -> str:
        return obj.describe_change()

    @admin.display(description=_("Changed by"), ordering="changed_by_label")
    def editor(self, obj: Phase) -> str:
        return editor_of(obj)
