"""Tables of the tracking pipeline: the durable outbox, dead letters, and the event store.

Importable from ``django_experiments.models`` (app label ``django_experiments``).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["DeadLetter", "OutboxBatch", "TrackedEvent"]


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

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(
                fields=["experiment", "event", "variant"], name="glex_event_exp_event_variant"
            ),
            models.Index(fields=["experiment", "key"], name="glex_event_exp_key"),
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
