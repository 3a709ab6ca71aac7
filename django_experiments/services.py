"""Changes to experiments that the admin, the API and management commands share.

Phases: every committed change of weights, salt or population (namespace range, holdouts)
closes the current phase and opens a new one holding the new weights, salt, slot table and
population. The recorder runs once the transaction commits,
so several treatments saved in one transaction are one change from the last committed table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from django_experiments.engine import allocation
from django_experiments.engine.definitions import invalidate
from django_experiments.loader import table_for, weights_of
from django_experiments.models import Experiment, Phase, Status, Treatment, new_salt
from django_experiments.populations import population_of, record_allocations

logger = logging.getLogger("django_experiments")

_changed_by: ContextVar[Any] = ContextVar("django_experiments_changed_by", default=None)


@contextmanager
def changed_by(user: Any) -> Iterator[None]:
    """Attribute phase changes made in this block (and committed by its end) to ``user``."""
    token = _changed_by.set(user)
    try:
        yield
    finally:
        _changed_by.reset(token)


def current_editor() -> Any:
    return _changed_by.get()


def schedule_phase_check(experiment_id: int) -> None:
    """Record a phase once the current transaction commits (now, in autocommit mode)."""
    user = _changed_by.get()
    transaction.on_commit(lambda: record_change(experiment_id, user))


def schedule_population_check(namespace_id: int | None) -> None:
    """After commit: record the namespaces' tables, then a phase check for the experiments of
    ``namespace_id`` (None: every experiment, for a change of the global holdout)."""
    user = _changed_by.get()
    transaction.on_commit(lambda: record_population_change(namespace_id, user))


def record_population_change(namespace_id: int | None, user: Any = None) -> None:
    record_allocations()
    experiments = Experiment.objects.order_by("pk")
    if namespace_id is not None:
        experiments = experiments.filter(namespace_id=namespace_id)
    for pk in experiments.values_list("pk", flat=True):
        record_change(pk, user)


def record_change(experiment_id: int, user: Any = None) -> Phase | None:
    """Open a new phase if weights, salt or population differ from the current phase's.
    Idempotent. Records the namespaces' tables first (an experiment may have left one)."""
    with transaction.atomic():
        record_allocations()
        # No select_related("namespace"): PostgreSQL refuses FOR UPDATE on the nullable side
        # of an outer join (population_of reads the namespace itself).
        experiment = Experiment.objects.select_for_update().filter(pk=experiment_id).first()
        if experiment is None:
            return None
        treatments = list(experiment.treatments.all())
        weights = weights_of(treatments)
        population = population_of(experiment)
        current = (
            experiment.phases.select_for_update()
            .filter(ended_at__isnull=True)
            .order_by("-number")
            .first()
        )
        if (
            current is not None
            and current.weights == weights
            and current.salt == experiment.salt
            and current.population == population
        ):
            return None
        ranges = table_for(treatments, experiment.salt, current)
        now = timezone.now()
        if current is None:
            reason = Phase.Reason.CREATED
        elif current.salt != experiment.salt:
            reason = Phase.Reason.SALT
        elif current.weights != weights:
            reason = Phase.Reason.WEIGHTS
        else:
            reason = Phase.Reason.POPULATION
        if current is not None:
            current.ended_at = now
            current.save(update_fields=["ended_at"])
        user_pk = getattr(user, "pk", None)
        phase = Phase.objects.create(
            experiment=experiment,
            number=(current.number + 1) if current else 1,
            reason=reason,
            started_at=now,
            salt=experiment.salt,
            previous_salt=current.salt if current else "",
            weights=weights,
            previous_weights=current.weights if current else None,
            slot_table=[list(r) for r in ranges],
            population=population,
            previous_population=current.population if current else None,
            changed_by_id=user_pk if isinstance(user_pk, int) else None,
            changed_by_label=str(user)[:150] if user is not None else "",
        )
    invalidate()
    return phase


def moved_share(old: Phase, new: Phase) -> float:
    """The share of contexts whose treatment differs between two phases (same salt)."""
    return allocation.moved_slots(old.slot_table, new.slot_table) / allocation.SLOTS


def start(experiment: Experiment) -> None:
    _set_status(experiment, Status.RUNNING)


def pause(experiment: Experiment) -> None:
    _set_status(experiment, Status.PAUSED)


def conclude(experiment: Experiment, winner: Treatment | None = None) -> None:
    _set_status(experiment, Status.CONCLUDED, winner)


def _set_status(experiment: Experiment, status: str, winner: Treatment | None = None) -> None:
    """Validate and save; on a validation error the instance is left as it was."""
    fields = ("status", "winner", "started_at", "concluded_at")
    before = {name: getattr(experiment, name) for name in fields}
    experiment.status = status
    if winner is not None:
        experiment.winner = winner
    now = timezone.now()
    if status == Status.RUNNING and experiment.started_at is None:
        experiment.started_at = now
    if status == Status.CONCLUDED:
        experiment.concluded_at = now
    try:
        experiment.full_clean()
    except ValidationError:
        for name, value in before.items():
            setattr(experiment, name, value)
        raise
    experiment.save()


def rerandomise(experiment: Experiment, *, forget_assignments: bool = True) -> None:
    """New salt: every context is re-hashed, and a new phase starts.

    Stored assignments are forgotten too (by default): a sticky store would otherwise keep
    every already-assigned context on its old variant and re-randomise only newcomers.
    """
    with transaction.atomic():
        experiment.salt = new_salt()
        fields = ["salt", "updated_at"]
        old_namespace = _store_namespace(experiment)
        if forget_assignments:
            experiment.store_generation += 1
            fields.append("store_generation")
        experiment.save(update_fields=fields)
        if forget_assignments:
            _clear_store_on_commit(experiment.name, old_namespace)


def clear_assignments(experiment: Experiment) -> None:
    """Forget every stored assignment of the experiment."""
    with transaction.atomic():
        old_namespace = _store_namespace(experiment)
        experiment.store_generation += 1
        experiment.save(update_fields=["store_generation", "updated_at"])
        _clear_store_on_commit(experiment.name, old_namespace)


def _store_namespace(experiment: Experiment) -> str:
    # Must match engine.definitions.Definition.store_name.
    if experiment.store_generation:
        return f"{experiment.name}~{experiment.store_generation}"
    return experiment.name


def _clear_store_on_commit(name: str, namespace: str) -> None:
    """Drop the old namespace once the generation bump is committed (not if it rolls back)."""
    from django_experiments.engine.stores import get_store

    def clear() -> None:
        try:
            get_store().clear(namespace)
        except Exception:
            logger.warning("Could not clear the store for %s", name, exc_info=True)

    transaction.on_commit(clear)


def create_draft(name: str) -> Experiment | None:
    """Create a draft row (with a control) for an unknown name so it shows in the admin."""
    try:
        with transaction.atomic():
            experiment, created = Experiment.objects.get_or_create(name=name[:100])
            if created:
                Treatment.objects.create(experiment=experiment, name="control", is_control=True)
        return experiment
    except Exception:
        logger.warning("Could not auto-create experiment %r", name, exc_info=True)
        return None
