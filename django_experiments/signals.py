"""Model signals that keep definitions fresh and record phases."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from django_experiments.engine.definitions import invalidate
from django_experiments.loader import mark_dirty
from django_experiments.models import Experiment, GlobalHoldout, Namespace, Phase, Treatment


def _definitions_changed(**kwargs: Any) -> None:
    # Now, so the saving process (and a test inside one transaction) sees its own change; and
    # again on commit, so a snapshot taken mid-transaction by another thread is dropped. Other
    # processes reload from the database within DEFINITIONS_TTL.
    mark_dirty()
    invalidate()
    transaction.on_commit(invalidate)


def _treatment_changed(sender: Any, instance: Treatment, **kwargs: Any) -> None:
    from django_experiments.services import schedule_phase_check

    _definitions_changed()
    if kwargs.get("raw"):
        return
    schedule_phase_check(instance.experiment_id)


def _experiment_saved(sender: Any, instance: Experiment, **kwargs: Any) -> None:
    from django_experiments.services import schedule_phase_check

    _definitions_changed()
    if kwargs.get("raw"):
        return
    schedule_phase_check(instance.pk)


def _experiment_deleted(sender: Any, instance: Experiment, **kwargs: Any) -> None:
    from django_experiments.services import schedule_population_check

    _definitions_changed()
    if instance.namespace_id is not None:
        # Its slots are freed: record the namespace's table (its siblings keep their ranges).
        schedule_population_check(instance.namespace_id)


def _namespace_changed(sender: Any, instance: Namespace, **kwargs: Any) -> None:
    from django_experiments.services import schedule_population_check

    _definitions_changed()
    if kwargs.get("raw"):
        return
    schedule_population_check(instance.pk)


def _holdout_changed(sender: Any, instance: GlobalHoldout, **kwargs: Any) -> None:
    from django_experiments.services import schedule_population_check

    _definitions_changed()
    if kwargs.get("raw"):
        return
    schedule_population_check(None)  # every experiment's population changed


def connect() -> None:
    post_save.connect(_treatment_changed, sender=Treatment, dispatch_uid="glex_treatment_saved")
    post_delete.connect(_treatment_changed, sender=Treatment, dispatch_uid="glex_treatment_deleted")
    post_save.connect(_experiment_saved, sender=Experiment, dispatch_uid="glex_experiment_saved")
    post_delete.connect(
        _experiment_deleted, sender=Experiment, dispatch_uid="glex_experiment_deleted"
    )
    post_save.connect(_namespace_changed, sender=Namespace, dispatch_uid="glex_namespace_saved")
    post_delete.connect(_namespace_changed, sender=Namespace, dispatch_uid="glex_namespace_deleted")
    post_save.connect(_holdout_changed, sender=GlobalHoldout, dispatch_uid="glex_holdout_saved")
    post_delete.connect(_holdout_changed, sender=GlobalHoldout, dispatch_uid="glex_holdout_deleted")
    post_save.connect(_definitions_changed, sender=Phase, dispatch_uid="glex_phase_saved")
