"""What the client layer may see: one rule for ``{% experiments_json %}`` and the client API.

Only experiments marked *client visible* in the admin, and only while they are running, or
paused for a context that already has a stored variant (it keeps seeing what it saw). A draft,
a concluded experiment or a paused one the visitor never entered shows nothing: not its name,
its key or its control's payload. Template tags and the API both call :func:`client_view`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_experiments.engine import definitions
from django_experiments.engine import experiment as engine_experiment
from django_experiments.engine.definitions import Definition
from django_experiments.engine.experiment import PAUSED, RUNNING, split_name
from django_experiments.engine.registry import class_for
from django_experiments.engine.stores import get_store, report_failure


def has_stored_variant(definition: Definition, key: str) -> bool:
    """Whether ``key`` has a (still existing) variant stored for ``definition``.

    A store that fails answers no: showing nothing is the safe side.
    """
    try:
        stored = get_store().get(definition.store_name, key)
    except Exception:
        report_failure("Assignment store unavailable; paused experiments are not published")
        return False
    return stored is not None and stored in definition.by_name


def is_client_visible(definition: Definition | None, key: str) -> bool:
    """The rule above, for one experiment (``definition``) and one context ``key``."""
    if definition is None or not definition.client_visible:
        return False
    if definition.status == RUNNING:
        return True
    return definition.status == PAUSED and has_stored_variant(definition, key)


def definition_of(name: str) -> Definition | None:
    """The definition experiment ``name`` (full name) resolved with: a test's stub if
    ``stub_experiments`` replaced it, else the admin row's. None when it cannot be read."""
    bare = split_name(name)[0]
    try:
        if bare in engine_experiment._stubs:
            return class_for(name)(name, only_assigned=True).definition
        return definitions.get_definition(bare)
    except Exception:  # no database: show nothing rather than fail the page
        report_failure("Experiment definitions unreadable; publishing nothing to the client")
        return None


def client_view(published: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{bare name: signature}`` of the published experiments (full names as keys) that the
    client may see; bare names are what the client asks for (no ``NAME_PREFIX``)."""
    visible: dict[str, dict[str, Any]] = {}
    for name, signature in published.items():
        if is_client_visible(definition_of(name), str(signature.get("key", ""))):
            visible[split_name(name)[0]] = dict(signature)
    return visible
