"""The background publisher: requests hand batches over and never wait for the broker."""

from __future__ import annotations

from typing import Any

import pytest

from django_experiments.engine.scope import Scope
from django_experiments.tracking.dispatch import Publisher, flush_scope, handoff, publisher
from django_experiments.tracking.models import OutboxBatch
from tests.celery_apps import make_app, use_app
from tests.tracking.conftest import DEAD_BROKER, RECORDING_SINK, RecordingSink
from tests.tracking.test_delivery import event

pytestmark = pytest.mark.django_db(transaction=True)


class Unstarted(Publisher):
    """A publisher whose thread never runs: what is queued stays queued until drained."""

    def _ensure_thread(self) -> bool:
        return True


def test_a_full_queue_makes_the_caller_publish_itself() -> None:
    pub = Unstarted(maxsize=1)
    assert pub.submit([event()]) is True
    assert pub.submit([event()]) is False


def test_drain_publishes_what_is_left(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])
    pub = Unstarted(maxsize=10)
    batches = [[event()] for _ in range(3)]
    for batch in batches:
        assert pub.submit(batch)
    pub.drain()  # the eager test app delivers inline
    assert sorted(RecordingSink.ids()) == sorted(b[0]["id"] for b in batches)
    assert pub.pending() == 0
    # Three requests' batches left as one task: one publish instead of three.
    assert len(RecordingSink.batches) == 1


def test_merged_batches_respect_the_batch_size(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK], TRACKING_BATCH_SIZE=2)
    pub = Unstarted(maxsize=10)
    for _ in range(5):
        assert pub.submit([event()])
    pub.drain()
    assert [len(batch) for batch in RecordingSink.batches] == [2, 2, 1]


def test_background_publish_with_a_dead_broker_ends_in_the_outbox(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])
    with use_app(make_app(DEAD_BROKER)):
        ids = []
        for _ in range(3):
            scope = Scope(events=[event()])
            ids.append(scope.events[0]["id"])
            flush_scope(scope)
        assert publisher.flush()
    assert sorted(e["id"] for b in OutboxBatch.objects.all() for e in b.events) == sorted(ids)


def test_setting_off_publishes_on_the_request_thread(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK], TRACKING_BACKGROUND_PUBLISH=False)
    with use_app(make_app(DEAD_BROKER)):
        handoff([event()])
        # No join: the request thread itself tried the broker and wrote the outbox.
        assert OutboxBatch.objects.count() == 1


def test_eager_celery_never_uses_the_thread(tracking_settings: Any) -> None:
    tracking_settings(TRACKING_SINKS=[RECORDING_SINK])
    handoff([event()])
    assert len(RecordingSink.batches) == 1
