"""``celery -A tests.tracking.process_death.worker worker -P prefork --max-tasks-per-child 1``:
the child runs one task and exits (Celery ends prefork children with ``os._exit``)."""

from __future__ import annotations

from tests.tracking.process_death.setup import app

__all__ = ["app", "track_then_exit"]


@app.task(name="tests.tracking.track_then_exit")
def track_then_exit(visitors: int) -> None:
    from django_experiments import experiment

    for i in range(visitors):
        exp = experiment("cta", actor=f"visitor-{i}")
        exp.assigned  # noqa: B018 - shown (the exposure), then the click
        exp.track("clicked", value=i)
