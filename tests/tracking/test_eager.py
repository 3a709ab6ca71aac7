"""The Celery eagerness check: per app, read once, a new current app read afresh."""

from __future__ import annotations

from django_experiments.tracking.eager import is_eager
from tests.celery_apps import make_app, use_app


def test_each_current_app_is_read_for_itself() -> None:
    eager, queued = make_app("memory://", eager=True), make_app("memory://", eager=False)
    with use_app(eager):
        assert is_eager() is True
    with use_app(queued):
        assert is_eager() is False
    with use_app(eager):
        assert is_eager() is True


def test_an_app_is_read_once() -> None:
    app = make_app("memory://", eager=False)
    with use_app(app):
        assert is_eager() is False
        # Eagerness is configuration, set before the app serves; a later flip of the same
        # app object is not looked for on every request.
        app.conf.task_always_eager = True
        assert is_eager() is False
    with use_app(make_app("memory://", eager=True)):
        assert is_eager() is True
