"""The background hand-over queue: bulk handling, back-pressure, drain, failures, forks."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from django_experiments.background import BackgroundQueue


class Unstarted(BackgroundQueue[int]):
    """A queue whose thread never runs: what is queued stays queued until drained."""

    def _ensure_thread(self) -> None:
        pass


def test_items_queued_while_lingering_are_handled_in_one_call() -> None:
    calls: list[list[int]] = []
    gate = threading.Event()

    def handle(items: list[int]) -> None:
        calls.append(items)

    def linger() -> float:
        gate.wait(5)  # hold the thread until every item is queued
        return 0.0

    bg = BackgroundQueue("test-bulk", handle, linger=linger)
    for item in range(5):
        assert bg.submit(item)
    gate.set()
    assert bg.join()
    assert calls == [[0, 1, 2, 3, 4]]
    assert bg.pending() == 0


def test_max_items_bounds_one_call() -> None:
    calls: list[list[int]] = []
    bg = Unstarted("test-max", calls.append, max_items=2)
    for item in range(5):
        bg.submit(item)
    bg.drain()
    assert calls == [[0, 1], [2, 3], [4]]


def test_a_full_queue_makes_the_caller_do_the_work() -> None:
    bg = Unstarted("test-full", lambda items: None, maxsize=2)
    assert bg.submit(1) and bg.submit(2)
    assert bg.submit(3) is False
    assert bg.pending() == 2


def test_a_failing_handler_is_logged_and_does_not_stall_join(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handle(items: list[int]) -> None:
        raise RuntimeError("sink exploded")

    bg = BackgroundQueue("test-failing", handle)
    with caplog.at_level(logging.ERROR, logger="django_experiments"):
        assert bg.submit(1)
        assert bg.join()
    assert "test-failing: handling 1 queued item(s) failed" in caplog.text
    # The thread survived: later items are still handled.
    assert bg.submit(2)
    assert bg.join()
    assert bg.thread is not None and bg.thread.is_alive()


def test_a_forked_process_starts_clean() -> None:
    handled: list[int] = []
    bg = BackgroundQueue("test-fork", handled.extend)
    assert bg.submit(1)
    assert bg.join()
    # What a fork looks like from inside the child: another pid, the parent's dead thread.
    bg.pid = -1
    bg.submitted += 3  # queued in the parent, never to be handled here
    assert bg.submit(2)
    assert bg.join()
    assert handled == [1, 2]
    assert bg.pending() == 0


def test_flush_cuts_the_linger_short() -> None:
    handled: list[int] = []
    bg = BackgroundQueue("test-flush", handled.extend, linger=lambda: 30.0)
    assert bg.submit(1)
    started = time.monotonic()
    assert bg.flush(timeout=5)
    assert time.monotonic() - started < 1.0
    assert handled == [1]
