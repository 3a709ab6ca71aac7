"""Nested experiment detection: error text, settings, per-class override, threads and tasks."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_experiments import Experiment, NestingError, control, experiment, register
from django_experiments.testing import isolated_registry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rows(make_experiment: Any) -> Iterator[None]:
    make_experiment("outer", control=1)
    make_experiment("inner", control=1)
    with isolated_registry():
        yield


def _register_outer(run_inner: Any) -> None:
    @register
    class Outer(Experiment):
        name = "outer"

        @control
        def show(self) -> Any:
            return run_inner()


def test_nesting_raises_naming_both_experiments_and_where_they_started() -> None:
    _register_outer(lambda: experiment("inner", actor="u").run())  # INNER-LINE
    with pytest.raises(NestingError) as info:
        experiment("outer", actor="u").run()  # OUTER-LINE
    message = str(info.value)
    lines = Path(__file__).read_text().splitlines()
    inner_line = next(i for i, line in enumerate(lines, 1) if line.endswith("# INNER-LINE"))
    outer_line = next(i for i, line in enumerate(lines, 1) if line.endswith("# OUTER-LINE"))
    assert message.startswith("unable to nest experiment 'inner' within experiment 'outer':")
    assert f"'outer' started at {__file__}:{outer_line}" in message
    assert f"'inner' started at {__file__}:{inner_line}" in message
    assert info.value.outer.name == "outer"
    assert info.value.nested.name == "inner"


def test_nesting_can_warn_or_be_allowed(settings: Any, caplog: Any) -> None:
    _register_outer(lambda: experiment("inner", actor="u").run())
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "NESTING": "warn"}
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        assert experiment("outer", actor="u").run() == "control"
    assert "unable to nest experiment 'inner' within experiment 'outer'" in caplog.text

    caplog.clear()
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "NESTING": "allow"}
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        assert experiment("outer", actor="u2").run() == "control"
    assert "unable to nest" not in caplog.text


def test_a_class_can_allow_specific_nested_experiments() -> None:
    @register
    class Outer(Experiment):
        name = "outer"

        @control
        def show(self) -> Any:
            return experiment("inner", actor="u").run()

        def nest_experiment(self, nested: Experiment) -> None:
            if nested.name != "inner":
                super().nest_experiment(nested)

    assert experiment("outer", actor="u").run() == "control"


def test_sequential_runs_are_not_nested() -> None:
    assert experiment("outer", actor="u").run() == "control"
    assert experiment("inner", actor="u").run() == "control"


def test_disabled_inner_experiments_do_not_count(make_experiment: Any) -> None:
    make_experiment("draft_inner", status="draft", control=1)
    _register_outer(lambda: experiment("draft_inner", actor="u").run())
    assert experiment("outer", actor="u").run() == "control"


def test_runs_in_concurrent_threads_are_not_nested() -> None:
    both_running = threading.Barrier(2, timeout=5)
    errors: list[BaseException] = []

    def wait_inside() -> str:
        both_running.wait()  # both threads are inside a run at the same time
        return "done"

    @register
    class Outer(Experiment):
        name = "outer"

        @control
        def show(self) -> str:
            return wait_inside()

    @register
    class Inner(Experiment):
        name = "inner"

        @control
        def show(self) -> str:
            return wait_inside()

    def work(name: str) -> None:
        try:
            assert experiment(name, actor="u").run() == "done"
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    # Load the definitions snapshot here: the threads then need no database connection.
    experiment("outer", actor="warm").assigned  # noqa: B018
    threads = [threading.Thread(target=work, args=(n,)) for n in ("outer", "inner")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_runs_in_concurrent_asyncio_tasks_are_not_nested() -> None:
    from asgiref.sync import sync_to_async

    order: list[str] = []

    async def run_in_task(name: str, gate: asyncio.Event, release: asyncio.Event) -> Any:
        # Each task marks its run as in progress (the contextvar is per task), then yields to
        # the other task while "inside" it.
        from django_experiments.engine import nesting

        exp = await sync_to_async(experiment)(name, actor="u")
        with nesting.running(exp):
            order.append(f"{name} in")
            gate.set()
            await release.wait()
            order.append(f"{name} out")
        return True

    async def main() -> list[Any]:
        a_in, b_in = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(
            run_in_task("outer", a_in, b_in),
            run_in_task("inner", b_in, a_in),
        )

    assert asyncio.run(main()) == [True, True]
    assert sorted(order) == ["inner in", "inner out", "outer in", "outer out"]
