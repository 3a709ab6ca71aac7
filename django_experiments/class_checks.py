"""System check: code-defined classes against their admin rows (IDs ``django_experiments.W1xx``).

A class and an admin row with the same name are one experiment: the row owns status, treatments
and weights, the class adds behaviours and rules. When they disagree, contexts end up in
variants the code cannot run (``BehaviorMissingError``) or the code waits for variants that are
never assigned. :func:`class_problems` is what the check reports, per experiment, for other
surfaces (the admin) to show too.

The check reads the definitions snapshot (shared cache, else the database); when the database is
not reachable or not migrated yet it reports nothing rather than failing the command.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from django.core import checks

from django_experiments.conf import settings
from django_experiments.engine.definitions import Definition
from django_experiments.engine.experiment import Experiment
from django_experiments.engine.registry import registered
from django_experiments.engine.rollout import Percent, resolve_rollout
from django_experiments.loader import load_from_db

logger = logging.getLogger("django_experiments")

ID = "django_experiments.{}"


class Problem(NamedTuple):
    code: str
    message: str
    hint: str


def _names(values: Any) -> str:
    return ", ".join(repr(v) for v in sorted(values))


def class_problems(cls: type[Experiment], definition: Definition | None) -> list[Problem]:
    """What is inconsistent between ``cls`` and the admin row's ``definition``."""
    label = f"{cls.__module__}.{cls.__qualname__}"
    if definition is None:
        return [
            Problem(
                "W105",
                f"Experiment class {label} has no admin row named {cls.name!r}: it serves "
                "control, untracked.",
                f"Create it in the admin with the treatments "
                f"{_names(cls._class_behaviors) or repr('control')}.",
            )
        ]
    problems: list[Problem] = []
    treatments = set(definition.variant_names)
    behaviors = set(cls._class_behaviors)
    if behaviors:
        missing_in_row = behaviors - treatments
        if missing_in_row:
            problems.append(
                Problem(
                    "W101",
                    f"Experiment class {label} has behaviours for {_names(missing_in_row)}, "
                    f"which the admin row {definition.name!r} does not have: they never run.",
                    "Add the treatments in the admin, or remove the behaviours.",
                )
            )
        missing_in_class = treatments - behaviors
        if missing_in_class:
            problems.append(
                Problem(
                    "W102",
                    f"The admin row {definition.name!r} has treatments {_names(missing_in_class)} "
                    f"with no behaviour in {label}: run() raises BehaviorMissingError for "
                    "contexts assigned to them.",
                    "Add @variant(...) methods for them, or remove the treatments.",
                )
            )
    unknown_segments = {v for _, v in cls._class_segments} - treatments
    if unknown_segments:
        problems.append(
            Problem(
                "W103",
                f"Experiment class {label} segments into {_names(unknown_segments)}, which the "
                f"admin row {definition.name!r} does not have: those rules are skipped.",
                "Add the treatments in the admin, or fix the @segment(...) variant names.",
            )
        )
    if cls.rollout is not None:
        try:
            strategy = resolve_rollout(cls.rollout, settings.DEFAULT_ROLLOUT)
        except Exception as exc:
            problems.append(
                Problem("W106", f"The rollout of {label} cannot be resolved: {exc}.", "")
            )
        else:
            if isinstance(strategy, Percent) and strategy.distribution:
                declared = set(strategy.distribution)
                if declared != treatments:
                    problems.append(
                        Problem(
                            "W104",
                            f"The Percent distribution of {label} names {_names(declared)} but "
                            f"the admin row {definition.name!r} has {_names(treatments)}: "
                            "unknown names resolve to control and missing ones get no new "
                            "contexts.",
                            "Make the distribution's keys match the admin row's treatments.",
                        )
                    )
    return problems


def problems_for(name: str) -> list[Problem]:
    """Problems of the registered class named ``name`` (none if there is no class)."""
    cls = registered().get(name)
    if cls is None:
        return []
    try:
        definition = load_from_db().get(name)
    except Exception:
        logger.debug("Definitions unavailable for the class check", exc_info=True)
        return []
    return class_problems(cls, definition)


@checks.register("django_experiments")
def check_experiment_classes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    classes = registered()
    if not classes:
        return []
    try:
        # From the database itself: the snapshot hides a database it cannot read.
        definitions = load_from_db()
    except Exception:
        # Not migrated yet, no database in this command, or access blocked (tests).
        logger.debug("Definitions unavailable for the class check", exc_info=True)
        return []
    messages: list[checks.CheckMessage] = []
    for name, cls in sorted(classes.items()):
        for problem in class_problems(cls, definitions.get(name)):
            messages.append(
                checks.Warning(
                    problem.message, hint=problem.hint or None, obj=cls, id=ID.format(problem.code)
                )
            )
    return messages
