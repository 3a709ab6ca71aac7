"""Tables of the tracking pipeline: the durable outbox, dead letters, and the event store.

Importable from ``django_experiments.models`` (app label ``django_experiments``).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "ContextConversion",
    "ContextExposure",
    "DailyConversion",
    "DailyExposure",
    "DeadLetter",
    "OutboxBatch",
    "TrackedEvent",
]


class TrackedEvent(models.Model):
    """One event as stored by DatabaseSink; the admin results read this table.

    ``event_id`` is unique, so a batch delivered twice (at-least-once) is stored once.
    """

    event_id = models.UUIDField(unique=True)
    event = models.CharField(max_length=100)
    experiment = models.CharField(max_length=100)
    variant = models.CharField(max_length=100)
    key = models.CharField(max_length=64)
    migration_keys = models.JSONField(default=list, blank=True)
    value = models.FloatField(null=True, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    #: ``Phase.number`` at resolution time; null for events from before producers sent it
    #: (results then place them by timestamp).
    phase = models.PositiveIntegerField(null=True, blank=True)
    #: The variant came from ``glex_force`` or an explicit variant: stored, never analysed.
    forced = models.BooleanField(default=False)
    #: The context was in a holdout (control in every experiment the holdout covers): results
    #: compare it with everyone else, never inside the per-variant analysis.
    holdout = models.BooleanField(default=False)

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(
                fields=["experiment", "event", "variant"], name="glex_event_exp_event_variant"
            ),
            # A context's events by name and time: the rollup refresh reads a context's
            # exposures without scanning its other events (a heavy context has thousands).
            models.Index(
                fields=["experiment", "key", "event", "timestamp"], name="glex_event_exp_key_event"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.experiment}:{self.variant} {self.event}"


class OutboxBatch(models.Model):
    """A batch that could not be handed to the broker (or, with eager Celery, a retry waiting
    for its backoff). ``drain_outbox`` re-enqueues rows whose ``available_at`` has passed."""

    events = models.JSONField()
    #: Dotted sink paths this batch is still owed to; null means every configured sink.
    sinks = models.JSONField(null=True, blank=True)
    #: The delivery attempt the batch will make next (1 for a fresh batch).
    attempt = models.PositiveIntegerField(default=1)
    dead_letter_id = models.BigIntegerField(null=True, blank=True)
    available_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("outbox batch")
        verbose_name_plural = _("outbox batches")

    def __str__(self) -> str:
        return f"outbox #{self.pk} ({len(self.events or [])} events)"


class DeadLetter(models.Model):
    """A batch one sink failed to take after ``TRACKING_MAX_ATTEMPTS`` attempts."""

    class State(models.TextChoices):
        DEAD = "dead", _("Dead")
        REDRIVING = "redriving", _("Re-driving")
        DELIVERED = "delivered", _("Delivered")

    sink = models.CharField(max_length=255)
    events = models.JSONField()
    event_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DEAD)
    last_error = models.TextField(blank=True)
    redrive_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    redriven_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "created_at"], name="glex_deadletter_state")]

    def __str__(self) -> str:
        return f"dead letter #{self.pk} for {self.sink} ({self.event_count} events)"


class ContextExposure(models.Model):
    """Rollup: a context's first exposure to an experiment, one row per context (none for a
    context with any forced exposure: docs/results.md, "Attribution").

    Kept by DatabaseSink as batches land (recomputed from TrackedEvent for the contexts a
    batch touches, so redelivery and out-of-order arrival give the same row). The daily
    rollups below are sums over these rows; results read those.
    """

    experiment = models.CharField(max_length=100)
    key = models.CharField(max_length=64)
    #: The phase the context is analysed in: its first exposure's.
    phase = models.PositiveIntegerField(null=True, blank=True)
    variant = models.CharField(max_length=100)
    exposed_at = models.DateTimeField()
    #: End of the conversion window (CONVERSION_WINDOWS); null when unbounded.
    window_ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "key"], name="glex_exposure_unique")
        ]

    def __str__(self) -> str:
        return f"{self.experiment}:{self.variant} {self.key}"


class ContextConversion(models.Model):
    """Rollup: one exposed context's attributed events of one name (a metric).

    Only events at or after the context's first exposure and inside its conversion window
    count. ``total`` is the sum of their values (null values count 0): the context's value for
    the value metric; the row's existence is the binomial metric's conversion.
    """

    experiment = models.CharField(max_length=100)
    key = models.CharField(max_length=64)
    event = models.CharField(max_length=100)
    phase = models.PositiveIntegerField(null=True, blank=True)
    variant = models.CharField(max_length=100)
    #: The context's exposure time (copied): the daily rollup groups contexts by exposure day.
    exposed_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    total = models.FloatField(default=0.0)
    #: How many of the events carried a value (0: the metric has no value side).
    valued = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "key", "event"], name="glex_conversion_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.experiment}:{self.variant} {self.event} {self.key}"


#: ``phase`` of the daily rollups for contexts whose phase is unknown (no admin row): unique
#: constraints treat NULLs as distinct, so the upserts need a real value. Phases start at 1.
NO_PHASE = 0


class DailyExposure(models.Model):
    """Rollup of ContextExposure: exposed contexts per phase, variant and exposure day (UTC).

    Kept by the same refresh as the per-context rows (old contribution out, new one in), so
    the results read days x variants rows, however many contexts there are.
    """

    experiment = models.CharField(max_length=100)
    phase = models.PositiveIntegerField()
    variant = models.CharField(max_length=100)
    day = models.DateField()
    exposed = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "phase", "variant", "day"], name="glex_daily_exposure"
            )
        ]

    def __str__(self) -> str:
        return f"{self.experiment}:{self.variant} {self.day} {self.exposed}"


class DailyConversion(models.Model):
    """Rollup of ContextConversion per phase, metric (event), variant and exposure day (UTC):
    converted contexts, the sum of their values and the sum of their squared values."""

    experiment = models.CharField(max_length=100)
    phase = models.PositiveIntegerField()
    event = models.CharField(max_length=100)
    variant = models.CharField(max_length=100)
    day = models.DateField()
    converted = models.BigIntegerField(default=0)
    total = models.FloatField(default=0.0)
    squares = models.FloatField(default=0.0)
    valued = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "phase", "event", "variant", "day"],
                name="glex_daily_conversion",
            )
        ]

    def __str__(self) -> str:
        return f"{self.experiment}:{self.variant} {self.event} {self.day} {self.converted}"
