"""Experiments, treatments and phases: the definitions edited in the admin."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

from django_experiments.namespace_validation import (
    MSG_NEEDS_NAMESPACE,
    MSG_NEEDS_SHARE,
    percent_text,
    validate_shares,
)
from django_experiments.validation import (
    MSG_WINNER,
    TreatmentRow,
    parse_weight,
    validate_treatment_rows,
)


def new_salt() -> str:
    return secrets.token_hex(8)


def percent_field(help_text: StrOrPromise, **kwargs: Any) -> models.DecimalField:
    """A percentage with two decimals (0.01 % is one of a partition's 10,000 slots)."""
    return models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text=help_text,
        **kwargs,
    )


class Namespace(models.Model):
    """Experiments that never overlap: each owns a range of the namespace's 10,000 slots.

    A context is hashed once with the namespace's salt, so it falls in at most one of its
    experiments (docs/namespaces.md). ``allocation`` is the recorded range table
    (``[start, stop, owner]``, owners are experiment ids and ``:holdout``), kept by
    ``populations.record_allocations`` so that a change of shares moves as few slots as
    possible.
    """

    name = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    salt = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("Defaults to the name, and then stays: renaming keeps every context's slot."),
    )
    holdout_percent = percent_field(
        _("Share of the namespace kept out of all its experiments (control, flagged)."),
        default=Decimal(0),
    )
    allocation = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.salt:
            self.salt = self.name
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.pk is None or not isinstance(self.holdout_percent, Decimal):
            return
        members = self.experiments.values_list("name", "namespace_share")
        try:
            validate_shares(self.name, self.holdout_percent, list(members))
        except ValidationError as exc:
            raise ValidationError({"holdout_percent": exc.messages}) from exc


class GlobalHoldout(models.Model):
    """One row: a share of all contexts kept out of every experiment (control, flagged).

    Hashed with its own salt, independently of every experiment and namespace. A database row
    rather than a setting: it is edited in the admin, and a change opens a phase in every
    experiment (the population changed), like any other admin change.
    """

    percent = percent_field(
        _("Share of all contexts that get control in every experiment."), default=Decimal(0)
    )
    salt = models.CharField(max_length=64, default=new_salt, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("global holdout")
        verbose_name_plural = _("global holdout")

    def __str__(self) -> str:
        return f"Global holdout ({percent_text(self.percent)} %)"


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    CONCLUDED = "concluded", _("Concluded")


class Experiment(models.Model):
    name = models.SlugField(max_length=100, unique=True, help_text=_("Unique slug used in code."))
    description = models.TextField(blank=True)
    hypothesis = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    winner = models.ForeignKey(
        "Treatment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Served to everyone once the experiment is concluded."),
    )
    salt = models.CharField(
        max_length=64,
        default=new_salt,
        help_text=_("Changing the salt re-randomises every context and starts a new phase."),
    )
    store_generation = models.PositiveIntegerField(
        default=0, editable=False, help_text=_("Bumped to forget every stored assignment.")
    )
    client_visible = models.BooleanField(
        default=False, help_text=_("May be read and tracked by browsers through the client API.")
    )
    namespace = models.ForeignKey(
        Namespace,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="experiments",
        help_text=_("Experiments of one namespace never share a context."),
    )
    namespace_share = percent_field(
        _("Share of the namespace's contexts this experiment owns; a change starts a new phase."),
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    concluded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        # By id, not ``self.winner``: a dangling id (treatment deleted meanwhile) must be a
        # validation error, not DoesNotExist.
        winner_experiment = (
            Treatment.objects.filter(pk=self.winner_id).values_list("experiment_id", flat=True)
            if self.winner_id is not None
            else None
        )
        if winner_experiment is not None and (
            self.pk is None or list(winner_experiment) != [self.pk]
        ):
            errors.setdefault("winner", []).append(MSG_WINNER)
        # The admin's inline formset validates the posted set instead of the stored one.
        if self.pk is not None and not getattr(self, "_treatments_validated_by_formset", False):
            rows = [TreatmentRow.from_model(t) for t in self.treatments.all()]
            try:
                validate_treatment_rows(self.status, rows)
            except ValidationError as exc:
                errors.setdefault("status", []).extend(exc.messages)
        self.clean_namespace(errors)
        if errors:
            raise ValidationError(errors)

    def clean_namespace(self, errors: dict[str, list[str]]) -> None:
        """File the namespace and share's problems in ``errors`` (the admin's ``clean`` and
        the management API share it): a share needs a namespace and vice versa, and the
        namespace's shares may not exceed what its holdout leaves."""
        share = self.namespace_share
        if self.namespace_id is None:
            if share is not None:
                errors.setdefault("namespace_share", []).append(MSG_NEEDS_NAMESPACE)
            return
        namespace = Namespace.objects.filter(pk=self.namespace_id).first()
        if namespace is None:
            return  # the field's own validation reports a dangling choice
        if share is None:
            errors.setdefault("namespace_share", []).append(
                MSG_NEEDS_SHARE.format(namespace=namespace.name)
            )
            return
        if not isinstance(share, Decimal) or "namespace_share" in errors:
            return
        others = namespace.experiments.exclude(pk=self.pk).values_list("name", "namespace_share")
        try:
            validate_shares(
                namespace.name,
                namespace.holdout_percent,
                [*others, (self.name or "this experiment", share)],
            )
        except ValidationError as exc:
            errors.setdefault("namespace_share", []).extend(exc.messages)

    @property
    def current_phase(self) -> Phase | None:
        return self.phases.filter(ended_at__isnull=True).order_by("-number").first()


class Treatment(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="treatments")
    name = models.SlugField(max_length=100)
    weight = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("Relative weight, like CSS flex-grow. 0 takes no new assignments."),
    )
    is_control = models.BooleanField(default=False)
    payload = models.JSONField(default=dict, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "name"], name="django_experiments_treatment_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.experiment.name}:{self.name}" if self.experiment_id else self.name

    def clean(self) -> None:
        try:
            # clean_fields() leaves unparseable input (a string, a float NaN) as it came, so
            # parse before checking rather than assume a Decimal.
            parse_weight(self.weight)
        except ValidationError as exc:
            raise ValidationError({"weight": exc.messages}) from exc


class Phase(models.Model):
    """A period with fixed weights and salt; the audit record of every change of either."""

    class Reason(models.TextChoices):
        CREATED = "created", _("Created")
        WEIGHTS = "weights", _("Weights changed")
        SALT = "salt", _("Re-randomised")
        POPULATION = "population", _("Namespace range or holdout changed")

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="phases")
    number = models.PositiveIntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    salt = models.CharField(max_length=64)
    previous_salt = models.CharField(max_length=64, blank=True)
    weights = models.JSONField(default=dict)
    previous_weights = models.JSONField(null=True, blank=True)
    # Slot table as [start, stop, treatment name] ranges over 0..9999; see engine/allocation.py.
    slot_table = models.JSONField(default=list)
    #: Who is in the experiment: its namespace range and the holdouts covering it
    #: (populations.population_of); empty for an experiment with neither.
    population = models.JSONField(default=dict, blank=True)
    previous_population = models.JSONField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["experiment", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "number"], name="django_experiments_phase_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.experiment.name} phase {self.number}"

    def describe_change(self) -> str:
        parts: list[str] = []
        if self.previous_weights is not None and self.previous_weights != self.weights:
            parts.append(f"weights {_fmt(self.previous_weights)} → {_fmt(self.weights)}")
        if self.previous_salt and self.previous_salt != self.salt:
            parts.append(f"salt {self.previous_salt} → {self.salt}")
        if self.previous_population is not None and self.previous_population != self.population:
            parts.append(
                f"population {_population(self.previous_population)} → "
                f"{_population(self.population)}"
            )
        return "; ".join(parts) or str(self.get_reason_display())


def _fmt(weights: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in weights.items())


def _population(population: dict[str, Any]) -> str:
    """``namespace checkout 30 %, holdout 5 %``, or ``everyone``."""
    parts = []
    if population.get("namespace"):
        slots = sum(stop - start for start, stop in population.get("slots") or [])
        parts.append(f"namespace {population['namespace']} {percent_text(Decimal(slots) / 100)} %")
    if population.get("namespace_holdout"):
        parts.append(f"namespace holdout {population['namespace_holdout']} %")
    if population.get("global_holdout"):
        parts.append(f"global holdout {population['global_holdout']} %")
    return ", ".join(parts) or "everyone"


from django_experiments.tracking.models import *  # noqa: E402,F401,F403
