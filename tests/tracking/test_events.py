"""What gets tracked: schema, should_track gates, dedupe per request and per window, validation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from django_experiments import experiment
from django_experiments.engine.context import identify
from django_experiments.engine.scope import Scope, activate
from django_experiments.tracking import events as events_mod
from django_experiments.tracking import flush
from django_experiments.tracking.events import InvalidEventError, build_event
from tests.tracking.conftest import RECORDING_SINK, RecordingSink

pytestmark = pytest.mark.django_db


class User:
    """A stand-in model instance: identify() uses _meta.label_lower and pk."""

    class _meta:  # noqa: N801 - mimics a model's _meta
        label_lower = "auth.user"

    is_anonymous = False
    is_authenticated = True

    def __init__(self, pk: int) -> None:
        self.pk = pk


RANDOM_FIELDS = {"id", "key", "timestamp"}


def test_assignment_event_has_the_schema_and_no_raw_ids(make_experiment: Any) -> None:
    make_experiment("cta")
    with activate(Scope(deferring=True)) as scope:
        exp = experiment("cta", actor=User(4242))
        exp.run()
    assert len(scope.events) == 1
    event = scope.events[0]
    assert set(event) == {
        "id",
        "event",
        "experiment",
        "variant",
        "key",
        "value",
        "properties",
        "timestamp",
        "phase",
        "forced",
        "holdout",
    }
    # No phase yet: the test's transaction never commits, and phases are recorded on commit.
    assert event["phase"] == 0 and event["forced"] is False and event["holdout"] is False
    assert uuid.UUID(event["id"]).version == 4
    assert event["event"] == "assignment"
    assert event["experiment"] == "cta"
    assert event["variant"] == exp.assigned.name
    assert event["key"] == exp.context.key
    assert event["value"] is None and event["properties"] == {}
    assert datetime.fromisoformat(event["timestamp"]).utcoffset().total_seconds() == 0
    # No raw id: the actor's identity is nowhere, and no field but the random or hashed ones
    # (id, key, timestamp: hex and digits, which may contain "4242" by chance) holds its pk.
    assert identify(User(4242)) not in repr(event)
    assert not any("4242" in repr(v) for f, v in event.items() if f not in RANDOM_FIELDS)


def test_track_carries_value_properties_and_migration_keys(make_experiment: Any) -> None:
    make_experiment("cta")
    with activate(Scope(deferring=True)) as scope:
        exp = experiment("cta", actor="new", migrated_from={"actor": "old"})
        exp.track("clicked", value=2.5, position="hero")
    (event,) = [e for e in scope.events if e["event"] == "clicked"]
    assert event["value"] == 2.5
    assert event["properties"] == {"position": "hero"}
    assert event["migration_keys"] == exp.context.migration_keys != []


@pytest.mark.parametrize("case", ["dnt", "excluded", "disabled", "only_assigned_miss", "unknown"])
def test_nothing_is_tracked_when_should_track_is_false(make_experiment: Any, case: str) -> None:
    make_experiment("cta", status="draft" if case == "disabled" else "running")
    name = "nope" if case == "unknown" else "cta"
    with activate(Scope(trackable=case != "dnt")) as scope:
        exp = experiment(name, actor="someone", only_assigned=case == "only_assigned_miss")
        if case == "excluded":
            exp.exclude(lambda _: True)
        exp.run()
        exp.publish()
        assert exp.track("clicked", value=1) is None
    assert scope.events == []


def test_assignment_once_per_request_for_the_same_key(make_experiment: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "TRACKING_DEDUPE_SECONDS": 0}
    make_experiment("cta")
    with activate(Scope(deferring=True)) as scope:
        experiment("cta", actor="a").run()
        experiment("cta", actor="a").publish()
        # A separate instance with the same key (not memoised: another keyword spelling).
        exp = type(experiment("cta", actor="a"))("cta", actor="a")
        exp.publish()
        experiment("cta", actor="b").publish()
    assignments = [e for e in scope.events if e["event"] == "assignment"]
    assert len(assignments) == 2
    assert len({e["key"] for e in assignments}) == 2


def shipped_assignments(*scopes: Scope) -> list[dict[str, Any]]:
    """Hand each request's events over as its flush does once the transaction commits (eager
    Celery delivers inline); what reached the sink."""
    from django_experiments.tracking.dispatch import handoff

    RecordingSink.batches.clear()
    for scope in scopes:
        handoff(scope.events)
    return [e for batch in RecordingSink.batches for e in batch if e["event"] == "assignment"]


def request(*actors: str, variant: str | None = None) -> Scope:
    with activate(Scope(deferring=True)) as scope:
        for actor in actors:
            experiment("cta", variant, actor=actor).run()
    return scope


def test_assignment_dedupe_window_across_requests(
    make_experiment: Any, tracking_settings: Any
) -> None:
    tracking_settings(TRACKING_DEDUPE_SECONDS=3600, TRACKING_SINKS=[RECORDING_SINK])
    make_experiment("cta")
    # The window is applied where events leave the process, not on the request path: every
    # request buffers its assignment event ...
    scopes = [request("a") for _ in range(3)]
    assert [len(scope.events) for scope in scopes] == [1, 1, 1]
    # ... and only the first in the window is shipped.
    assert [len(shipped_assignments(scope)) for scope in scopes] == [1, 0, 0]
    # The window lives in the cache: once it expires (here: cleared) the next one is shipped.
    caches["default"].clear()
    assert len(shipped_assignments(request("a"))) == 1


def test_dedupe_window_is_per_phase(
    make_experiment: Any, tracking_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django_experiments.models import Treatment

    tracking_settings(TRACKING_DEDUPE_SECONDS=3600, TRACKING_SINKS=[RECORDING_SINK])
    with django_capture_on_commit_callbacks(execute=True):  # phases are recorded on commit
        exp = make_experiment("cta", control=1, candidate=1)
    first = shipped_assignments(request("a"))
    assert [e["phase"] for e in first] == [1]
    with django_capture_on_commit_callbacks(execute=True):
        treatment = Treatment.objects.get(experiment=exp, name="candidate")
        treatment.weight = 3
        treatment.save()  # a new phase
    again = shipped_assignments(request("a"))
    assert [e["phase"] for e in again] == [2]  # exposed again, in the new phase
    assert shipped_assignments(request("a")) == []


def test_dedupe_window_is_per_variant(make_experiment: Any, tracking_settings: Any) -> None:
    tracking_settings(TRACKING_DEDUPE_SECONDS=3600, TRACKING_SINKS=[RECORDING_SINK])
    make_experiment("cta")
    first = request("a")
    assert len(shipped_assignments(first)) == 1
    other = "candidate" if first.events[0]["variant"] == "control" else "control"
    assert [e["variant"] for e in shipped_assignments(request("a", variant=other))] == [other]


def test_dedupe_window_zero_ships_every_request(
    make_experiment: Any, tracking_settings: Any
) -> None:
    tracking_settings(TRACKING_DEDUPE_SECONDS=0, TRACKING_SINKS=[RECORDING_SINK])
    make_experiment("cta")
    assert [len(shipped_assignments(request("a"))) for _ in range(3)] == [1, 1, 1]


def test_dedupe_window_on_redis_is_one_round_trip_per_batch(
    make_experiment: Any, tracking_settings: Any, redis_store: Any, round_trips: list[int]
) -> None:
    tracking_settings(
        TRACKING_DEDUPE_SECONDS=3600,
        TRACKING_DEDUPE_CACHE_ALIAS="redis",
        TRACKING_SINKS=[RECORDING_SINK],
    )
    make_experiment("cta")
    batch = [*request("a", "b", "c").events, *request("a").events]
    round_trips.clear()
    kept = events_mod.first_in_window(batch)
    assert len(round_trips) == 1
    assert [e["key"] for e in kept] == [e["key"] for e in batch[:3]]
    # The keys are the ones cache.add() would use: the generic path agrees.
    assert caches["redis"].add(events_mod.dedupe_key(batch[0]), 1, 60) is False
    # The same batch delivered again (a worker died before acknowledging it) keeps its events:
    # the keys hold their own ids. Another exposure of the same context is dropped.
    assert events_mod.first_in_window(batch[:3]) == batch[:3]
    assert events_mod.first_in_window(request("a").events) == []


def test_a_redelivered_batch_keeps_its_events_on_any_cache(
    make_experiment: Any, tracking_settings: Any
) -> None:
    tracking_settings(TRACKING_DEDUPE_SECONDS=3600, TRACKING_SINKS=[RECORDING_SINK])
    make_experiment("cta")
    first = request("a", "b").events
    assert events_mod.first_in_window(first) == first
    assert events_mod.first_in_window(first) == first  # delivered again: nothing lost
    assert events_mod.first_in_window(request("a").events) == []
    assert len(events_mod.first_in_window(request("c").events)) == 1


class SilentlyBrokenCache(LocMemCache):
    """A cache configured to swallow its errors: ``add`` answers None, neither True nor False."""

    def add(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None


def test_a_cache_that_swallows_its_errors_keeps_the_events(
    make_experiment: Any, tracking_settings: Any, settings: Any
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "silent": {"BACKEND": f"{__name__}.SilentlyBrokenCache"},
    }
    tracking_settings(TRACKING_DEDUPE_CACHE_ALIAS="silent", TRACKING_SINKS=[RECORDING_SINK])
    make_experiment("cta")
    assert len(shipped_assignments(request("a"))) == 1
    assert len(shipped_assignments(request("a"))) == 1


def test_a_dead_dedupe_cache_ships_rather_than_drops(
    make_experiment: Any, tracking_settings: Any, dead_cache: str
) -> None:
    tracking_settings(TRACKING_DEDUPE_CACHE_ALIAS=dead_cache, TRACKING_SINKS=[RECORDING_SINK])
    make_experiment("cta")
    assert len(shipped_assignments(request("a"))) == 1
    assert len(shipped_assignments(request("a"))) == 1


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"when": datetime(2020, 1, 1)}, "JSON-serialisable"),
        ({"x": float("nan")}, "JSON-serialisable"),
        ({"blob": "x" * 5000}, "EVENT_MAX_PROPERTIES_BYTES"),
        ({1: "int key"}, "names must be strings"),
        (["not", "a", "dict"], "must be an object"),
    ],
)
def test_invalid_properties_raise_clear_errors(
    make_experiment: Any, properties: Any, message: str
) -> None:
    make_experiment("cta")
    exp = experiment("cta", actor="a")
    with pytest.raises(InvalidEventError, match=message):
        build_event(exp, "clicked", None, properties)


@pytest.mark.parametrize(
    ("event", "value", "message"),
    [
        ("", None, "non-empty string"),
        ("x" * 101, None, "at most 100"),
        (None, None, "non-empty string"),
        ("clicked", "1", "number or null"),
        ("clicked", True, "number or null"),
        ("clicked", float("inf"), "finite"),
        ("clicked", 2**60, "2\\*\\*53"),
    ],
)
def test_invalid_names_and_values(
    make_experiment: Any, event: Any, value: Any, message: str
) -> None:
    make_experiment("cta")
    exp = experiment("cta", actor="a")
    with pytest.raises(InvalidEventError, match=message):
        build_event(exp, event, value)


def test_track_with_invalid_properties_raises_and_buffers_nothing(make_experiment: Any) -> None:
    make_experiment("cta")
    with activate(Scope(deferring=True)) as scope:
        exp = experiment("cta", actor="a")
        with pytest.raises(InvalidEventError):
            exp.track("clicked", blob="x" * 10_000)
    assert [e for e in scope.events if e["event"] == "clicked"] == []


def test_outside_a_scope_events_are_handed_over_at_once(
    make_experiment: Any, tracking_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK], TRACKING_DEDUPE_SECONDS=0)
    make_experiment("cta")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        exp = experiment("cta", actor="a")
        exp.run()
        exp.track("clicked")
    # Nothing waits in process memory: each event is handed over after commit.
    assert len(callbacks) == 2
    assert [[e["event"] for e in b] for b in RecordingSink.batches] == [
        ["assignment"],
        ["clicked"],
    ]
    assert flush() == 0  # kept for compatibility: there is never anything left


def test_events_follow_their_experiments_own_scope(
    make_experiment: Any, tracking_settings: Any
) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK], TRACKING_DEDUPE_SECONDS=0)
    make_experiment("cta")
    own = Scope(deferring=True)
    other = Scope(deferring=True)
    with activate(other):
        exp = experiment("cta", scope=own, actor="a")
        exp.track("clicked")
        exp.assigned  # noqa: B018 - shown: the exposure
    assert [e["event"] for e in own.events] == ["clicked", "assignment"]
    assert other.events == []


def test_a_scope_nobody_closes_does_not_hold_events(
    make_experiment: Any, tracking_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK], TRACKING_DEDUPE_SECONDS=0)
    make_experiment("cta")
    with django_capture_on_commit_callbacks(execute=True), activate(Scope()) as scope:
        exp = experiment("cta", actor="a")  # bound by user code: not deferring
        exp.assigned  # noqa: B018
        exp.track("clicked")
    assert scope.events == []
    assert [e["event"] for b in RecordingSink.batches for e in b] == ["assignment", "clicked"]


def test_event_ids_are_valid_version_4_uuids() -> None:
    import uuid

    from django_experiments.tracking.events import new_event_id

    ids = {new_event_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in list(ids)[:200]:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == value


def test_a_held_out_exposure_is_flagged_and_stored_with_its_flag(make_experiment: Any) -> None:
    from decimal import Decimal

    from django_experiments.models import GlobalHoldout
    from django_experiments.tracking.models import TrackedEvent
    from django_experiments.tracking.sinks import DatabaseSink

    make_experiment("cta")
    GlobalHoldout.objects.create(percent=Decimal(100))
    with activate(Scope(deferring=True)) as scope:
        exp = experiment("cta", actor=User(4242))
        exp.run()
        exp.track("signup")
    exposure, signup = scope.events
    assert (exposure["variant"], exposure["holdout"], exposure["forced"]) == (
        "control",
        True,
        False,
    )
    assert signup["holdout"] is True
    DatabaseSink().send(scope.events)
    assert list(TrackedEvent.objects.order_by("event").values_list("event", "holdout")) == [
        ("assignment", True),
        ("signup", True),
    ]
