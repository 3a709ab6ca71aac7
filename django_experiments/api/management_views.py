"""The management API: experiments, treatments, status actions, phases and results.

Every change goes through the functions the admin uses (``services.start`` / ``pause`` /
``conclude`` / ``rerandomise``, model saves whose signals record phases), inside
``services.changed_by(request.user)`` so a phase names the acting user exactly as an admin edit
does, and inside one transaction so several treatments saved together are one phase.

Access is ``DjangoModelPermissions`` (plus the view permission for reads) under whatever
authentication the host configures for DRF.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from django_experiments import services
from django_experiments.api.management_serializers import (
    ConcludeSerializer,
    ExperimentSerializer,
    PhaseSerializer,
    RerandomiseSerializer,
    StartSerializer,
    TreatmentSerializer,
    WeightsSerializer,
    as_api_errors,
    check_rows,
)
from django_experiments.models import Experiment, Phase, Treatment
from django_experiments.validation import TreatmentRow

#: Experiment and treatment names are slugs (the models' SlugField).
SLUG = r"[-a-zA-Z0-9_]+"


#: Actions that change an existing experiment: POSTs that need Django's "change" permission.
CHANGE_ACTIONS = frozenset({"start", "pause", "conclude", "rerandomise", "weights"})


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django's model permissions, as in the admin: reads need the view permission, and the
    status actions and weight changes (POSTs) the change permission, not the add one.

    Checked against the view's ``permission_model`` before anything is looked up, so a user
    without permission learns nothing, not even whether an experiment exists.
    """

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        method = "PATCH" if getattr(view, "action", None) in CHANGE_ACTIONS else request.method
        return bool(user.has_perms(self.get_required_permissions(method, view.permission_model)))


@contextmanager
def editing(request: Request) -> Iterator[None]:
    """One transaction whose phase changes are attributed to the request's user.

    ``request.user`` is DRF's (token, session, ...), resolved before the block opens.
    """
    with services.changed_by(request.user), transaction.atomic():
        yield


class ManagementViewSet(viewsets.GenericViewSet):
    permission_classes = [ModelPermissions]
    # drf-spectacular's schema whatever DEFAULT_SCHEMA_CLASS the host sets. The actions pass
    # one to @action too: @extend_schema builds on the action's schema, else on the default.
    schema = AutoSchema()
    pagination_class = None


class ExperimentViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    ManagementViewSet,
):
    """Experiments by name, with their treatments; status changes are actions."""

    serializer_class = ExperimentSerializer
    permission_model = Experiment
    lookup_field = "name"
    lookup_value_regex = SLUG

    def get_queryset(self) -> QuerySet[Experiment]:
        return Experiment.objects.prefetch_related("treatments", "winner")

    def perform_create(self, serializer: Any) -> None:
        treatments = serializer.validated_data.pop("treatments", [])
        with editing(self.request):
            experiment = serializer.save()
            for index, item in enumerate(treatments):
                Treatment.objects.create(experiment=experiment, **{"order": index, **item})

    def perform_update(self, serializer: Any) -> None:
        treatments = serializer.validated_data.pop("treatments", None)
        with editing(self.request):
            experiment = serializer.save()
            if treatments is not None:
                replace_treatments(experiment, treatments)

    @extend_schema(request=StartSerializer, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"], schema=AutoSchema())
    def start(self, request: Request, name: str) -> Response:
        """Start (or resume) the experiment: it takes assignments and is tracked."""
        return self._status_change(request, services.start)

    @extend_schema(request=StartSerializer, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"], schema=AutoSchema())
    def pause(self, request: Request, name: str) -> Response:
        """Pause: stored visitors keep their variant, new ones get control; nothing is tracked."""
        return self._status_change(request, services.pause)

    @extend_schema(request=ConcludeSerializer, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"], schema=AutoSchema())
    def conclude(self, request: Request, name: str) -> Response:
        """Conclude with a winner (a treatment name; control when omitted)."""
        body = ConcludeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        experiment = self.get_object()
        winner_name = body.validated_data.get("winner")
        winner = None
        if winner_name:
            winner = experiment.treatments.filter(name=winner_name).first()
            if winner is None:
                raise serializers.ValidationError(
                    {"winner": [f"{experiment.name} has no treatment named {winner_name!r}."]}
                )
        return self._status_change(request, lambda e: services.conclude(e, winner), experiment)

    @extend_schema(request=RerandomiseSerializer, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"], schema=AutoSchema())
    def rerandomise(self, request: Request, name: str) -> Response:
        """New salt: every context is re-hashed and a new phase starts."""
        body = RerandomiseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        forget = body.validated_data["forget_assignments"]
        return self._status_change(
            request, lambda e: services.rerandomise(e, forget_assignments=forget)
        )

    @extend_schema(request=WeightsSerializer, responses={200: PhaseSerializer})
    @action(detail=True, methods=["post"], schema=AutoSchema())
    def weights(self, request: Request, name: str) -> Response:
        """Change several weights at once: one change, so one new phase, recorded with you."""
        body = WeightsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        weights: dict[str, Decimal] = body.validated_data["weights"]
        experiment = self.get_object()
        treatments = {t.name: t for t in experiment.treatments.all()}
        unknown = sorted(set(weights) - set(treatments))
        if unknown:
            raise serializers.ValidationError(
                {"weights": [f"{experiment.name} has no treatment named {', '.join(unknown)}."]}
            )
        rows = [
            TreatmentRow(t.name, weights.get(t.name, Decimal(t.weight)), t.is_control)
            for t in treatments.values()
        ]
        check_rows(experiment.status, rows)
        with editing(request):
            for treatment_name, weight in weights.items():
                treatment = treatments[treatment_name]
                if Decimal(treatment.weight) != weight:
                    treatment.weight = weight
                    treatment.save(update_fields=["weight"])
        return Response(PhaseSerializer(experiment.current_phase).data)

    @extend_schema(responses=PhaseSerializer(many=True))
    @action(detail=True, methods=["get"], schema=AutoSchema())
    def phases(self, request: Request, name: str) -> Response:
        """Every phase, newest first: weights, salt, slot table, who changed it."""
        experiment = self.get_object()
        phases = Phase.objects.filter(experiment=experiment).order_by("-number")
        return Response(PhaseSerializer(phases, many=True).data)

    @extend_schema(
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (400, "application/json"): OpenApiTypes.OBJECT,
        },
        parameters=[
            OpenApiParameter("phase", int, description="Phase number (default: the current)."),
            OpenApiParameter("alpha", float, description="Significance level (default 0.05)."),
            OpenApiParameter(
                "correction", str, enum=["holm", "none"], description="Multiple comparisons."
            ),
            OpenApiParameter("sequential", float, description="Sequential testing tuning."),
        ],
    )
    @action(detail=True, methods=["get"], schema=AutoSchema())
    def results(self, request: Request, name: str) -> HttpResponse:
        """The admin results page as JSON: the very document of its ``results.json`` link.

        One phase (``?phase=N``, default the current one): exposures per variant, the SRM
        check, and per metric each variant's numbers against control. A bad parameter is a
        400 with ``{"error": "..."}``.
        """
        from django_experiments.results.views import results_json

        return results_json(request._request, self.get_object())

    def _status_change(
        self, request: Request, change: Any, experiment: Experiment | None = None
    ) -> Response:
        experiment = experiment or self.get_object()
        with as_api_errors("status"), editing(request):
            change(experiment)
        experiment = self.get_queryset().get(pk=experiment.pk)
        return Response(ExperimentSerializer(experiment).data, status=status.HTTP_200_OK)


class TreatmentViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ManagementViewSet,
):
    """One experiment's treatments; every write is judged with the whole resulting set."""

    serializer_class = TreatmentSerializer
    permission_model = Treatment
    lookup_field = "name"
    lookup_value_regex = SLUG

    def experiment(self) -> Experiment:
        experiment: Experiment | None = getattr(self, "_experiment", None)
        if experiment is None:
            experiment = get_object_or_404(Experiment, name=self.kwargs["experiment"])
            self._experiment = experiment
        return experiment

    def get_queryset(self) -> QuerySet[Treatment]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no URL kwargs
            return Treatment.objects.none()
        return Treatment.objects.filter(experiment=self.experiment())

    def _check_set(self, changed: TreatmentRow | None, removed: str | None = None) -> None:
        """The admin's whole-set rules over the set as it will be after this write."""
        experiment = self.experiment()
        rows = [TreatmentRow.from_model(t) for t in experiment.treatments.all()]
        target = self.kwargs.get("name")
        rows = [r for r in rows if r.name not in (target, removed)]
        if changed is not None:
            rows.append(changed)
        check_rows(experiment.status, rows)

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        if self.get_queryset().filter(name=data["name"]).exists():
            raise serializers.ValidationError(
                {
                    "name": [
                        f"{self.experiment().name} already has a treatment named {data['name']!r}."
                    ]
                }
            )
        self._check_set(
            TreatmentRow(
                data["name"], data.get("weight", Decimal(1)), data.get("is_control", False)
            )
        )
        # Without an order, a new treatment goes last, as a new row in the admin's inline.
        order = data.get("order", len(self.get_queryset()))
        with editing(self.request):
            serializer.save(experiment=self.experiment(), order=order)

    def perform_update(self, serializer: Any) -> None:
        instance: Treatment = serializer.instance
        data = {**TreatmentSerializer(instance).data, **serializer.validated_data}
        if data["name"] != instance.name and self.get_queryset().filter(name=data["name"]).exists():
            raise serializers.ValidationError(
                {
                    "name": [
                        f"{self.experiment().name} already has a treatment named {data['name']!r}."
                    ]
                }
            )
        self._check_set(
            TreatmentRow(data["name"], Decimal(data["weight"]), bool(data["is_control"]))
        )
        with editing(self.request):
            serializer.save()

    def perform_destroy(self, instance: Treatment) -> None:
        self._check_set(None, removed=instance.name)
        with editing(self.request):
            instance.delete()


def replace_treatments(experiment: Experiment, items: list[dict[str, Any]]) -> None:
    """Make the experiment's treatments exactly ``items`` (by name), as the admin formset does.

    Called inside the caller's transaction, so the whole replacement is one phase.
    """
    existing = {t.name: t for t in experiment.treatments.all()}
    wanted = {item["name"] for item in items}
    for name, treatment in existing.items():
        if name not in wanted:
            treatment.delete()
    for index, item in enumerate(items):
        values = {"order": index, **item}
        found = existing.get(item["name"])
        if found is None:
            Treatment.objects.create(experiment=experiment, **values)
            continue
        treatment = found
        changed = [k for k, v in values.items() if getattr(treatment, k) != v]
        if changed:
            for key in changed:
                setattr(treatment, key, values[key])
            treatment.save(update_fields=changed)
