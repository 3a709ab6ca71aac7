"""The resolution order (docs/architecture.md, "Resolution order"), written once.

:func:`decide` is a pure function: no I/O, no Django, no settings. Its caller (the
:class:`~django_experiments.engine.experiment.Experiment` facade) gathers the facts — the
definition, whether the experiment is enabled, the explicit and forced variants, the stored
variant — and acts on the returned :class:`Decision`: which variant, whether to store it,
whether the exposure is tracked, and why.

Rules and the rollout are asked through a small :class:`Rules` object, because the order
decides whether they run at all: an exclusion rule never runs for a context whose stored
variant answered first, and a random rollout must not draw for an excluded context.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, NamedTuple, Protocol

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
    HOLDOUT = "holdout"  # step 3a: in a holdout: control, tracked and flagged, not stored
    NAMESPACE = "namespace"  # step 3b: outside the experiment's range of its namespace
    STORED = "stored"  # step 4
    ONLY_ASSIGNED = "only_assigned"  # step 5: nothing stored
    EXCLUDED = "excluded"  # step 6
    SEGMENT = "segment"  # step 7
    ROLLOUT = "rollout"  # step 8


#: Variants chosen by hand: written over whatever is stored (not set-if-absent), and their
#: exposures are recorded but left out of the analysis.
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
        """Excluded by a rule, an ``only_assigned`` miss, or outside the experiment's range of
        its namespace (``Experiment.excluded``)."""
        return self.reason in (Reason.EXCLUDED, Reason.ONLY_ASSIGNED, Reason.NAMESPACE)

    @property
    def held_out(self) -> bool:
        """In a holdout: its exposure is flagged and analysed apart from the variants."""
        return self.reason is Reason.HOLDOUT

    @property
    def overwrite(self) -> bool:
        return self.reason in HAND_PICKED

    @property
    def hand_picked(self) -> bool:
        return self.reason in HAND_PICKED


class Rules(Protocol):
    """What :func:`decide` asks only when the order reaches it."""

    def is_excluded(self) -> bool: ...

    def segment_variant(self) -> str | None: ...

    def rollout_variant(self) -> str | None: ...


#: ``tuple.__new__``: builds a Decision without NamedTuple's Python-level ``__new__`` (this
#: runs once per resolution).
_new = tuple.__new__


def needs_stored(
    definition: Definition | None,
    status: str | None,
    enabled: bool,
    explicit: str | None,
    forced: str | None,
    placement: Reason | None = None,
) -> bool:
    """Whether :func:`decide` will look at the stored variant for these facts (step 4 or a
    paused experiment), so that the caller reads the store only when it matters."""
    if definition is None or placement is not None:
        return False
    if status == PAUSED:
        return True
    return status == RUNNING and enabled and explicit is None and forced is None


# Module-level names for the members decide() returns: an enum attribute lookup costs
# three times a global's, and decide() runs once per resolution.
_MISSING, _CONCLUDED, _PAUSED = Reason.MISSING, Reason.CONCLUDED, Reason.PAUSED
_NOT_RUNNING, _DISABLED = Reason.NOT_RUNNING, Reason.DISABLED
_EXPLICIT, _FORCED, _STORED = Reason.EXPLICIT, Reason.FORCED, Reason.STORED
_ONLY_ASSIGNED, _EXCLUDED = Reason.ONLY_ASSIGNED, Reason.EXCLUDED
_SEGMENT, _ROLLOUT = Reason.SEGMENT, Reason.ROLLOUT
_HOLDOUT, _NAMESPACE = Reason.HOLDOUT, Reason.NAMESPACE


def decide(
    definition: Definition | None,
    status: str | None,
    enabled: bool,
    explicit: str | None,
    forced: str | None,
    stored: str | None,
    only_assigned: bool,
    trackable: bool,
    rules: Rules | None,
    choice: str | None = None,
    placement: Reason | None = None,
) -> Decision:
    """One experiment for one context.

    ``status`` is the definition's, or a test stub's (stubs decide enablement themselves);
    ``explicit``, ``forced`` and ``stored`` must already be valid variant names or None, and
    ``stored`` is only consulted where :func:`needs_stored` said so. A segment or rollout
    variant that is unknown (or None) gives control. ``rules=None`` means the context has no
    exclusion or segmentation rules and ``choice`` is its rollout's answer, computed
    beforehand (only for deterministic rollouts, which draw nothing and count nothing).
    ``placement`` is ``Reason.HOLDOUT`` or ``Reason.NAMESPACE`` when the context is outside the
    experiment's population (engine/placement.py), None when it is inside.
    Positional arguments: resolution calls this once per context, and keyword passing is a
    measurable share of its cost.
    """
    if definition is None:
        return _new(Decision, ("control", _MISSING, False, False))
    if status is None:
        status = definition.status
    control = definition.control
    if status == CONCLUDED:
        if placement is _HOLDOUT:  # the holdout keeps measuring what shipped
            return _new(Decision, (control, _HOLDOUT, False, False))
        return _new(Decision, (definition.winner or control, _CONCLUDED, False, False))
    if status == PAUSED:
        if placement is not None:
            return _new(Decision, (control, placement, False, False))
        return _new(Decision, (stored or control, _PAUSED, False, False))
    if status != RUNNING:
        return _new(Decision, (control, _NOT_RUNNING, False, False))
    if not enabled:
        return _new(Decision, (control, _DISABLED, False, False))
    if explicit is not None:
        return _new(Decision, (explicit, _EXPLICIT, True, trackable))
    if forced is not None:
        return _new(Decision, (forced, _FORCED, True, trackable))
    if placement is not None:
        # Before the stored variant: a context that a range change or a grown holdout moved
        # out must not keep its old variant (it would then be in two experiments).
        if placement is _HOLDOUT:
            return _new(Decision, (control, _HOLDOUT, False, trackable))
        return _new(Decision, (control, _NAMESPACE, False, False))
    if stored is not None:
        return _new(Decision, (stored, _STORED, False, trackable))
    if only_assigned:
        return _new(Decision, (control, _ONLY_ASSIGNED, False, False))
    by_name = definition.by_name
    if rules is None:
        chosen = choice
    else:
        if rules.is_excluded():
            return _new(Decision, (control, _EXCLUDED, False, False))
        chosen = rules.segment_variant()
        if chosen is not None and chosen in by_name:
            return _new(Decision, (chosen, _SEGMENT, True, trackable))
        chosen = rules.rollout_variant()
    if chosen is None or chosen not in by_name:
        chosen = control
    return _new(Decision, (chosen, _ROLLOUT, True, trackable))
