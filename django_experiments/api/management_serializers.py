"""Input and output shapes of the management API (``django_experiments.api.management_urls``).

Every rule comes from ``django_experiments.validation``, the module the admin and the models
use: a weight is parsed by ``parse_weight`` and a treatment set is judged by
``validate_treatment_rows``, so a message cannot differ between the admin and the API.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from django_experiments.models import Experiment, Namespace, Phase, Treatment
from django_experiments.validation import (
    TreatmentRow,
    format_weight,
    parse_weight,
    validate_treatment_rows,
)


@contextmanager
def as_api_errors(field: str | None = None) -> Iterator[None]:
    """Re-raise the shared validation module's errors as DRF's (a 400, not a 500).

    ``field`` files messages that carry no field of their own under that key.
    """
    try:
        yield
    except DjangoValidationError as exc:
        if field is not None and not hasattr(exc, "error_dict"):
            raise serializers.ValidationError({field: get_error_detail(exc)}) from exc
        raise serializers.ValidationError(get_error_detail(exc)) from exc


@extend_schema_field({"type": "string", "format": "decimal", "example": "1"})
class WeightField(serializers.Field):
    """A weight as the admin reads it: a number or a numeric string, finite and 0 or more."""

    def to_internal_value(self, data: Any) -> Decimal:
        with as_api_errors():
            return parse_weight(data)

    def to_representation(self, value: Any) -> str:
        return format_weight(value)


class TreatmentSerializer(serializers.ModelSerializer[Treatment]):
    weight = WeightField(required=False)

    class Meta:
        model = Treatment
        fields = ("name", "weight", "is_control", "payload", "order")

    def validate_payload(self, value: Any) -> Any:
        # The engine hands payloads to templates and the client API as JSON objects.
        if not isinstance(value, dict):
            raise serializers.ValidationError("Payload must be a JSON object.")
        return value


class NestedTreatmentSerializer(TreatmentSerializer):
    """A treatment inside an experiment body: its name is checked with the set, not alone."""

    class Meta(TreatmentSerializer.Meta):
        # The model's (experiment, name) constraint is checked on the whole set instead.
        validators: list[Any] = []


def rows_of(items: Iterable[dict[str, Any]]) -> list[TreatmentRow]:
    return [
        TreatmentRow(
            item["name"],
            item.get("weight", Decimal(1)),
            bool(item.get("is_control", False)),
        )
        for item in items
    ]


def check_rows(status: str, rows: list[TreatmentRow], field: str | None = "treatments") -> None:
    """The admin formset's whole-set rules, as a 400 (under ``field`` when given)."""
    with as_api_errors(field):
        validate_treatment_rows(status, rows)


class PhaseSerializer(serializers.ModelSerializer[Phase]):
    change = serializers.CharField(source="describe_change", read_only=True)
    changed_by = serializers.CharField(source="changed_by_label", read_only=True)
    slot_table = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField()), read_only=True
    )
    weights = serializers.DictField(child=serializers.CharField(), read_only=True)
    previous_weights = serializers.DictField(
        child=serializers.CharField(), read_only=True, allow_null=True
    )

    class Meta:
        model = Phase
        fields = (
            "number",
            "reason",
            "started_at",
            "ended_at",
            "weights",
            "previous_weights",
            "salt",
            "previous_salt",
            "slot_table",
            "change",
            "changed_by",
        )
        read_only_fields = fields


class ExperimentSerializer(serializers.ModelSerializer[Experiment]):
    """An experiment with its treatments; status and winner change through the actions."""

    treatments = NestedTreatmentSerializer(many=True, required=False)
    winner: serializers.SlugRelatedField[Treatment] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    current_phase = serializers.SerializerMethodField()
    namespace: serializers.SlugRelatedField[Namespace] = serializers.SlugRelatedField(
        slug_field="name",
        queryset=Namespace.objects.all(),
        allow_null=True,
        required=False,
        help_text="The namespace whose slots this experiment shares out (docs/namespaces.md).",
    )

    class Meta:
        model = Experiment
        fields = (
            "name",
            "description",
            "hypothesis",
            "status",
            "winner",
            "client_visible",
            "salt",
            "namespace",
            "namespace_share",
            "treatments",
            "current_phase",
            "created_at",
            "updated_at",
            "started_at",
            "concluded_at",
        )
        read_only_fields = (
            "status",
            "salt",
            "created_at",
            "updated_at",
            "started_at",
            "concluded_at",
        )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, Iterable):
            # Renaming changes every context key: the admin does it, a script should not.
            fields["name"].read_only = True
        return fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_current_phase(self, experiment: Experiment) -> int | None:
        phase = experiment.current_phase
        return None if phase is None else phase.number

    def validate_treatments(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        status = self.instance.status if isinstance(self.instance, Experiment) else "draft"
        check_rows(status, rows_of(value), field=None)  # DRF files it under "treatments"
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The namespace rules of the model's ``clean`` (which DRF does not call), on the
        experiment as it would be saved."""
        if "namespace" in attrs or "namespace_share" in attrs:
            current = self.instance if isinstance(self.instance, Experiment) else None
            candidate = copy.copy(current) if current is not None else Experiment()
            for field in ("name", "namespace", "namespace_share"):
                if field in attrs:
                    setattr(candidate, field, attrs[field])
            errors: dict[str, list[str]] = {}
            candidate.clean_namespace(errors)
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


class StartSerializer(serializers.Serializer):
    """Start has no options; an empty body."""


class ConcludeSerializer(serializers.Serializer):
    winner = serializers.SlugField(
        required=False,
        allow_null=True,
        help_text="Name of the treatment served to everyone from now on (default: control).",
    )


class RerandomiseSerializer(serializers.Serializer):
    forget_assignments = serializers.BooleanField(
        default=True,
        help_text="Also forget stored assignments, so returning visitors are re-hashed too.",
    )


class WeightsSerializer(serializers.Serializer):
    """``{"weights": {"control": "3", "candidate": 1}}``: one change, so one phase."""

    weights = serializers.DictField(child=WeightField(), allow_empty=False)
