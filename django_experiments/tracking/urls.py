"""Client-side events endpoint; included by ``django_experiments.urls``.

``path("experiments/", include("django_experiments.urls"))`` exposes it at
``/experiments/events/`` (URL name ``django_experiments:events``).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from django_experiments.middleware import with_scope
from django_experiments.tracking.views import ClientEventsView

urlpatterns: list[URLPattern | URLResolver] = [
    # with_scope: without the middleware the view still reads the visitor's cookie.
    path("events/", with_scope(ClientEventsView.as_view()), name="events"),
]
