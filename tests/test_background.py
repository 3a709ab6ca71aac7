"""The background hand-over queue: bulk handling, back-pressure, drain, failures, forks."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest

from django_experiments.background import BackgroundQueue


class Unstarted(BackgroundQueue[int]):
    """A queue whose thread never runs: what is queued stays queued until drained."""

    def _ensure_thread(self) -> bool:
        return True


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


def test_a_forked_child_starts_clean() -> None:
    handled: list[int] = []
    bg = BackgroundQueue("test-fork", handled.extend, linger=lambda: 30.0)
    assert bg.submit(1)  # the parent's item, lingering in the parent's thread
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own queue, thread and locks; the parent's item is not its own
        try:
            ok = bg.submit(2) and bg.flush(timeout=5)
            os.write(write, f"{ok} {handled} {bg.pending()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child == "True [2] 0"
    assert bg.flush(timeout=5)
    assert handled == [1]


def test_flush_waits_only_for_what_was_queued_before_it() -> None:
    bg = Unstarted("test-ticket", lambda items: None)
    assert bg.submit(1)
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(bg.flush(timeout=5)))
    waiter.start()
    time.sleep(0.05)
    assert bg.submit(2)  # queued after the flush began: under load there is always more
    bg._handle(bg._take(1))  # what the thread does with the first item
    waiter.join(5)
    assert result == [True]
    assert bg.pending() == 1


def test_flush_cuts_the_linger_short() -> None:
    handled: list[int] = []
    bg = BackgroundQueue("test-flush", handled.extend, linger=lambda: 30.0)
    assert bg.submit(1)
    started = time.monotonic()
    assert bg.flush(timeout=5)
    assert time.monotonic() - started < 1.0
    assert handled == [1]
