"""A WSGI app for gunicorn: one page that resolves ``cta`` and tracks a click."""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import path

import tests.tracking.process_death.setup  # noqa: F401 - Django, Celery and the stub

settings.ROOT_URLCONF = __name__


def page(request: HttpRequest) -> HttpResponse:
    exp = request.experiment("cta")  # type: ignore[attr-defined]
    exp.track("clicked")
    return HttpResponse(exp.assigned.name)


urlpatterns = [path("page/", page)]

application = WSGIHandler()
