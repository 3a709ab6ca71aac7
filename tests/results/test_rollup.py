"""The rollups DatabaseSink keeps: attribution, idempotence, order independence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from django_experiments.models import Experiment, Phase
from django_experiments.results import rollup
from django_experiments.results.aggregate import Totals, aggregate
from django_experiments.tracking.models import ContextConversion, ContextExposure, TrackedEvent
from tests.results.conftest import event

Store = Callable[[list[dict[str, Any]]], None]


@pytest.fixture
def phases(make_experiment: Any, minutes: Callable[[float], datetime]) -> Experiment:
    """Phase 1 over minutes [0, 60), phase 2 from minute 60 on."""
    exp: Experiment = make_experiment("cta", control=1, candidate=1)
    common = {"experiment": exp, "reason": Phase.Reason.CREATED, "salt": exp.salt}
    Phase.objects.create(number=1, started_at=minutes(0), ended_at=minutes(60), **common)
    Phase.objects.create(number=2, started_at=minutes(60), **common)
    return exp


def test_conversion_counts_once_and_only_after_exposure(
    phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    store(
        [
            event("clicked", "a", at=minutes(1), value=100),  # before exposure: not counted
            event("assignment", "a", at=minutes(2)),
            event("clicked", "a", at=minutes(3), value=2),
            event("clicked", "a", at=minutes(4), value=3),
            event("clicked", "a", at=minutes(5)),  # no value: counts 0 to the sum
            event("assignment", "b", "candidate", at=minutes(2)),
        ]
    )
    result = aggregate("cta", 1)
    assert result.exposed == {"control": 1, "candidate": 1}
    assert result.metrics == {"clicked": {"control": Totals(1, 5.0, 25.0, 2)}}
    row = ContextConversion.objects.get()
    assert (row.key, row.count, row.total, row.valued) == ("a", 3, 5.0, 2)


def test_redelivered_batch_changes_nothing(
    phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    batch = [
        event("assignment", "a", at=minutes(1)),
        event("clicked", "a", at=minutes(2), value=4),
    ]
    store(batch)
    store(batch)
    assert TrackedEvent.objects.count() == 2
    assert aggregate("cta", 1).metrics == {"clicked": {"control": Totals(1, 4.0, 16.0, 1)}}


def test_exposure_arriving_after_its_conversions_still_attributes_them(
    phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    store([event("clicked", "a", at=minutes(5), value=1)])
    assert not ContextExposure.objects.exists()
    store([event("assignment", "a", at=minutes(1))])
    assert aggregate("cta", 1).metrics == {"clicked": {"control": Totals(1, 1.0, 1.0, 1)}}


def test_an_earlier_exposure_arriving_late_moves_the_context(
    phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    store([event("assignment", "a", "candidate", at=minutes(70))])
    assert aggregate("cta", 2).exposed == {"candidate": 1}
    store([event("assignment", "a", "control", at=minutes(10))])
    assert aggregate("cta", 2).exposed == {}
    assert aggregate("cta", 1).exposed == {"control": 1}


def test_context_belongs_to_the_phase_of_its_first_exposure(
    phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    store(
        [
            event("assignment", "old", at=minutes(10), phase=1),
            # Seen again in phase 2 (the dedupe key includes the phase): still phase 1's.
            event("assignment", "old", at=minutes(70), phase=2),
            event("clicked", "old", at=minutes(80)),
            # No phase key (older producer): placed by timestamp.
            event("assignment", "new", "candidate", at=minutes(65)),
        ]
    )
    assert aggregate("cta", 1).exposed == {"control": 1}
    assert aggregate("cta", 1).metrics == {"clicked": {"control": Totals(1, 0.0, 0.0, 0)}}
    assert aggregate("cta", 2).exposed == {"candidate": 1}
    assert aggregate("cta", 2).metrics == {}


def test_event_phase_wins_over_timestamp(
    phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    # Resolved just before the phase changed, stored just after: the event says phase 1.
    store([event("assignment", "a", at=minutes(60.5), phase=1)])
    assert aggregate("cta", 1).exposed == {"control": 1}


def test_forced_exposures_and_conversions_are_stored_but_not_analysed(
    phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    store(
        [
            event("assignment", "qa", "candidate", at=minutes(1), forced=True),
            event("clicked", "qa", "candidate", at=minutes(2), forced=True),
            # Forced, then seen again unflagged: the stored variant was hand-picked, so the
            # context stays out of the analysis.
            event("assignment", "u", "candidate", at=minutes(1), forced=True),
            event("assignment", "u", "candidate", at=minutes(3), forced=False),
            event("clicked", "u", "candidate", at=minutes(5)),
            event("assignment", "v", "control", at=minutes(3)),
            event("clicked", "v", "control", at=minutes(5)),
        ]
    )
    assert TrackedEvent.objects.filter(forced=True).count() == 3
    result = aggregate("cta", 1)
    assert result.exposed == {"control": 1}
    assert result.metrics == {"clicked": {"control": Totals(1, 0.0, 0.0, 0)}}
    assert ContextExposure.objects.get().key == "v"


def test_a_context_forced_after_its_exposure_leaves_the_analysis(
    phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    """Exposed by the randomisation, converted, then forced (a QA session on a real visitor's
    cookie): its rows and their share of the daily sums are taken back out."""
    store(
        [
            event("assignment", "w", "control", at=minutes(1)),
            event("clicked", "w", "control", at=minutes(2)),
            event("assignment", "z", "candidate", at=minutes(1)),
        ]
    )
    assert aggregate("cta", 1).exposed == {"control": 1, "candidate": 1}
    store([event("assignment", "w", "candidate", at=minutes(3), forced=True)])
    result = aggregate("cta", 1)
    assert result.exposed == {"candidate": 1}
    assert result.metrics == {}
    assert not ContextConversion.objects.filter(key="w").exists()
    incremental = _daily()
    rollup.rebuild("cta")
    assert _daily() == incremental


def test_conversion_window_per_experiment(
    phases: Experiment, store: Store, minutes: Callable[[float], datetime], settings: Any
) -> None:
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "CONVERSION_WINDOWS": {"cta": 0.5, "*": 1000},
    }
    store(
        [
            event("assignment", "a", at=minutes(0)),
            event("clicked", "a", at=minutes(29), value=1),
            event("clicked", "a", at=minutes(31), value=10),  # outside 30 minutes
            event("assignment", "b", at=minutes(0)),
            event("clicked", "b", at=minutes(45)),
        ]
    )
    assert aggregate("cta", 1).metrics == {"clicked": {"control": Totals(1, 1.0, 1.0, 1)}}
    # Widening the window and rebuilding re-attributes stored events.
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "CONVERSION_WINDOWS": {}}
    assert rollup.rebuild("cta") == 2
    assert aggregate("cta", 1).metrics == {"clicked": {"control": Totals(2, 11.0, 121.0, 2)}}


@pytest.mark.parametrize("bad", ["2", -1, 2**40, 1.5, True])
def test_bad_phase_is_kept_and_placed_by_timestamp(
    bad: Any, phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    batch = [event("assignment", "a", at=minutes(70))]
    batch[0]["phase"] = bad
    store(batch)
    assert TrackedEvent.objects.get().phase is None
    assert aggregate("cta", 2).exposed == {"control": 1}


def test_name_prefix_maps_events_to_the_admin_row(
    make_experiment: Any, store: Store, minutes: Callable[[float], datetime], settings: Any
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "NAME_PREFIX": "shop"}
    exp = make_experiment("cta")
    Phase.objects.create(
        experiment=exp, number=3, reason="created", salt="s", started_at=minutes(0)
    )
    store([event("assignment", "a", experiment="shop_cta", at=minutes(1))])
    assert aggregate("shop_cta", 3).exposed == {"control": 1}


def test_experiment_without_admin_row_has_phase_none(
    db: Any, store: Store, minutes: Callable[[float], datetime]
) -> None:
    store([event("assignment", "a", experiment="code_only", at=minutes(1))])
    assert aggregate("code_only", None).exposed == {"control": 1}


def _daily() -> tuple[list[Any], list[Any]]:
    from django_experiments.tracking.models import DailyConversion, DailyExposure

    exposed = sorted(
        DailyExposure.objects.filter(exposed__gt=0).values_list(
            "experiment", "phase", "variant", "day", "exposed"
        )
    )
    converted = sorted(
        (e, p, ev, v, d, c, round(t, 9), round(s, 9), n)
        for e, p, ev, v, d, c, t, s, n in DailyConversion.objects.filter(
            converted__gt=0
        ).values_list(
            "experiment",
            "phase",
            "event",
            "variant",
            "day",
            "converted",
            "total",
            "squares",
            "valued",
        )
    )
    return exposed, converted


@pytest.mark.parametrize("seed", range(8))
def test_incremental_rollups_equal_a_rebuild_whatever_the_delivery_order(
    seed: int, phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    """Batches shuffled, split and redelivered: the daily sums the worker keeps are exactly
    what a rebuild from the stored events gives."""
    import random

    rng = random.Random(seed)
    events = []
    for i in range(60):
        key = f"k{i % 25}"
        name = "assignment" if rng.random() < 0.4 else rng.choice(["clicked", "bought"])
        value = rng.choice([None, 1, 2.5, 10]) if name == "bought" else None
        events.append(
            event(
                name,
                key,
                rng.choice(["control", "candidate"]),
                at=minutes(rng.uniform(0, 24 * 60 * 3)),
                value=value,
                forced=rng.random() < 0.1,
            )
        )
    rng.shuffle(events)
    batches = [events[i : i + 7] for i in range(0, len(events), 7)]
    for batch in batches + rng.sample(batches, 3):  # some delivered twice
        store(batch)
    incremental = _daily()
    assert incremental[0], "some contexts were exposed"
    rollup.rebuild("cta")
    assert _daily() == incremental


def test_rebuild_results_command(
    phases: Experiment, store: Store, minutes: Callable[[float], datetime]
) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from django_experiments.tracking.models import DailyExposure

    store([event("assignment", "a", at=minutes(1)), event("clicked", "a", at=minutes(2))])
    DailyExposure.objects.all().delete()  # as after an upgrade: events without rollups
    out = StringIO()
    call_command("rebuild_results", stdout=out)
    assert "cta: 1 contexts" in out.getvalue()
    assert aggregate("cta", 1).metrics == {"clicked": {"control": Totals(1, 0.0, 0.0, 0)}}
    assert aggregate("cta", 1).exposed == {"control": 1}  # the deleted rollups are back
    with pytest.raises(CommandError, match="nope"):
        call_command("rebuild_results", "nope", stdout=out)


def test_later_conversions_of_an_exposed_context_do_not_reread_its_history(
    phases: Experiment,
    store: Store,
    minutes: Callable[[float], datetime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A heavy context (a bot, a power user) costs each batch its new events only: only a new
    first exposure recomputes a context from everything stored."""
    recomputed: list[set[str]] = []
    original = rollup.refresh

    def spy(stored_name: str, keys: Any, using: str | None = None) -> None:
        recomputed.append(set(keys))
        original(stored_name, keys, using=using)

    monkeypatch.setattr(rollup, "refresh", spy)
    store([event("assignment", "heavy", at=minutes(1))])
    for batch in range(3):
        store(
            [event("clicked", "heavy", at=minutes(2 + batch), value=1) for _ in range(50)]
            + [event("assignment", "heavy", at=minutes(30), phase=1)]  # a re-exposure
        )
    assert recomputed == [{"heavy"}]
    assert aggregate("cta", 1).metrics == {"clicked": {"control": Totals(1, 150.0, 150.0**2, 150)}}
