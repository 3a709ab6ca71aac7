"""The client API: assignments for the browser and the browser's events.

Both views are wrapped in ``with_scope``: without the middleware they still read the visitor's
cookie, set it, and ship their events.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from django_experiments.api.events import ClientEventsView
from django_experiments.api.views import AssignmentsView
from django_experiments.middleware import with_scope

urlpatterns: list[URLPattern | URLResolver] = [
    path("assignments/", with_scope(AssignmentsView.as_view()), name="assignments"),
    path("events/", with_scope(ClientEventsView.as_view()), name="events"),
]
