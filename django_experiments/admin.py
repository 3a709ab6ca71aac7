"""Admin: experiments with a treatment inline, live share preview, phases and status actions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from django_experiments import services
from django_experiments.engine import allocation
from django_experiments.models import Experiment, Phase, Treatment
from django_experiments.tracking import admin as _tracking_admin  # noqa: F401 - registers
from django_experiments.validation import TreatmentRow, validate_treatment_rows
from django_experiments.weight_field import WeightField


def shares_of(treatments: list[Treatment]) -> dict[str, float]:
    """Effective shares (percent) as the slot table will give them."""
    counts = allocation.slot_counts([(t.name, t.weight) for t in treatments])
    return {name: 100 * n / allocation.SLOTS for name, n in counts.items()}


class TreatmentFormSet(BaseInlineFormSet):
    """Validates the whole posted treatment set with the same rules as the model and the API."""

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


class TreatmentForm(forms.ModelForm):
    class Meta:
        model = Treatment
        fields = ("order", "name", "weight", "is_control", "payload")
        field_classes = {"weight": WeightField}


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
    fields = ("number", "reason", "started_at", "ended_at", "change", "changed_by_label")
    readonly_fields = fields
    ordering = ("-number",)
    verbose_name_plural = _("Phases (every change of weights or salt)")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("Change"))
    def change(self, obj: Phase) -> str:
        return obj.describe_change()


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ("name", "status", "winner", "client_visible", "description", "hypothesis")

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
    list_display = ("name", "status", "treatment_shares", "phase_started", "updated_at")
    list_filter = ("status", "client_visible")
    search_fields = ("name", "description", "hypothesis")
    readonly_fields = (
        "results_link",
        "code_class",
        "share_preview",
        "salt",
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
        css = {"all": ("django_experiments/admin/preview.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Experiment]:
        current = Phase.objects.filter(experiment=OuterRef("pk"), ended_at__isnull=True)
        return (
            super()
            .get_queryset(request)
            .prefetch_related("treatments")
            .annotate(phase_start=Subquery(current.order_by("-number").values("started_at")[:1]))
        )

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
                    f"{shares[t.name]:.2f}".rstrip("0").rstrip("."),
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

    @admin.display(description=_("Effective shares"))
    def share_preview(self, obj: Experiment) -> str:
        treatments = list(obj.treatments.all()) if obj.pk else []
        shares = shares_of(treatments)
        rows = format_html_join(
            "",
            '<tr data-treatment="{}"><td>{}</td><td class="glex-share">{}%</td></tr>',
            ((t.name, t.name, f"{shares[t.name]:.2f}") for t in treatments),
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
        view = self.admin_site.admin_view(self.results_view)
        return [
            path("<path:object_id>/results/", view, name="django_experiments_experiment_results"),
            *super().get_urls(),
        ]

    def results_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from django_experiments.results import results_for

        experiment = self.get_object(request, object_id)
        if experiment is None or not self.has_view_permission(request, experiment):
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": experiment,
            "title": f"{experiment.name}: results",
            "results": results_for(experiment),
        }
        return TemplateResponse(
            request, "admin/django_experiments/experiment/results.html", context
        )

    @admin.display(description=_("Results"))
    def results_link(self, obj: Experiment) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("admin:django_experiments_experiment_results", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Conversion results of this phase"))

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
        "changed_by_label",
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
