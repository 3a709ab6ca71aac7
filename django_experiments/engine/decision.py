"""The resolution order (docs/architecture.md, "Resolution order"), written once.

:func:`decide` is a pure function: no I/O, no Django, no settings. Its caller (the
:class:`~django_experiments.engine.experiment.Experiment` facade) gathers the facts — the
definition, whether the experiment is enabled, the explicit and forced variants, the stored
variant — and acts on the returned :class:`Decision`: which variant, whether to store it,
whether the exposure is tracked, and why.

Rules and the rollout are passed as thunks, because the order decides whether they run at all:
an exclusion rule never runs for a context whose stored variant answered first, and a random
rollout must not draw for an excluded context.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from django_experiments.engine.definitions import Definition

RUNNING = "running"
PAUSED = "paused"
CONCLUDED = "concluded"


class Reason(str, enum.Enum):
    """Why a context got its variant (step numbers follow docs/architecture.md)."""

    MISSING = "missing"  # no definition (no admin row): control
    CONCLUDED = "concluded"  # step 1: the winner, or control
    NOT_RUNNING = "not_running"  # step 1: draft (or any status that is not running)
    PAUSED = "paused"  # step 1: the stored variant, else control
    DISABLED = "disabled"  # step 1: running, but enabled() or the rollout said no
    EXPLICIT = "explicit"  # step 2
    FORCED = "forced"  # step 3 (glex_force)
    STORED = "stored"  # step 4
    ONLY_ASSIGNED = "only_assigned"  # step 5: nothing stored
    EXCLUDED = "excluded"  # step 6
    SEGMENT = "segment"  # step 7
    ROLLOUT = "rollout"  # step 8


#: Reasons whose variant is written with overwrite (not set-if-absent).
OVERWRITES = frozenset({Reason.EXPLICIT, Reason.FORCED})
#: Reasons whose variant is new for the context: stored only if nothing is (set-if-absent).
CLAIMS = frozenset({Reason.SEGMENT, Reason.ROLLOUT})
#: Reasons whose exposure counts: the context is in the running experiment's population.
EXPOSED = frozenset({Reason.EXPLICIT, Reason.FORCED, Reason.STORED, Reason.SEGMENT, Reason.ROLLOUT})
#: Exposures recorded but left out of the analysis: someone chose the variant by hand.
HAND_PICKED = frozenset({Reason.EXPLICIT, Reason.FORCED})


class Decision(NamedTuple):
    """What :func:`decide` returns (a named tuple: resolution builds one per context)."""

    #: The variant name (always one of the definition's treatments, or "control" without one).
    variant: str
    reason: Reason
    #: Write ``variant`` to the store: overwrite for explicit and forced, set-if-absent else.
    store: bool
    #: Record the exposure (and let custom events through).
    track: bool

    @property
    def excluded(self) -> bool:
        """Excluded by a rule, or an ``only_assigned`` miss (``Experiment.excluded``)."""
        return self.reason in (Reason.EXCLUDED, Reason.ONLY_ASSIGNED)

    @property
    def overwrite(self) -> bool:
        return self.reason in OVERWRITES

    @property
    def hand_picked(self) -> bool:
        return self.reason in HAND_PICKED


def needs_stored(
    definition: Definition | None,
    *,
    status: str | None,
    enabled: bool,
    explicit: str | None,
    forced: str | None,
) -> bool:
    """Whether :func:`decide` will look at the stored variant for these facts (step 4 or a
    paused experiment), so that the caller reads the store only when it matters."""
    if definition is None:
        return False
    if status == PAUSED:
        return True
    return status == RUNNING and enabled and explicit is None and forced is None


def decide(
    definition: Definition | None,
    *,
    status: str | None = None,
    enabled: bool,
    explicit: str | None,
    forced: str | None,
    stored: str | None,
    only_assigned: bool,
    trackable: bool,
    excluded: Callable[[], bool],
    segment: Callable[[], str | None],
    rollout: Callable[[], str | None],
) -> Decision:
    """One experiment for one context.

    ``status`` overrides the definition's (test stubs decide enablement themselves);
    ``explicit``, ``forced`` and ``stored`` must already be valid variant names or None, and
    ``stored`` is only consulted where :func:`needs_stored` said so. ``segment`` and ``rollout``
    may return an unknown name or None: control is used then.
    """
    if definition is None:
        return Decision("control", Reason.MISSING, store=False, track=False)
    status = definition.status if status is None else status
    control = definition.control
    if status == CONCLUDED:
        return Decision(definition.winner or control, Reason.CONCLUDED, store=False, track=False)
    if status == PAUSED:
        return Decision(stored or control, Reason.PAUSED, store=False, track=False)
    if status != RUNNING:
        return Decision(control, Reason.NOT_RUNNING, store=False, track=False)
    if not enabled:
        return Decision(control, Reason.DISABLED, store=False, track=False)
    if explicit is not None:
        return Decision(explicit, Reason.EXPLICIT, store=True, track=trackable)
    if forced is not None:
        return Decision(forced, Reason.FORCED, store=True, track=trackable)
    if stored is not None:
        return Decision(stored, Reason.STORED, store=False, track=trackable)
    if only_assigned:
        return Decision(control, Reason.ONLY_ASSIGNED, store=False, track=False)
    if excluded():
        return Decision(control, Reason.EXCLUDED, store=False, track=False)
    by_name = definition.by_name
    chosen = segment()
    if chosen is not None and chosen in by_name:
        return Decision(chosen, Reason.SEGMENT, store=True, track=trackable)
    chosen = rollout()
    if chosen is None or chosen not in by_name:
        chosen = control
    return Decision(chosen, Reason.ROLLOUT, store=True, track=trackable)
