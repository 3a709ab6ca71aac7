"""Client-side events endpoint; included by ``django_experiments.urls``.

``path("experiments/", include("django_experiments.urls"))`` exposes it at
``/experiments/events/`` (URL name ``django_experiments:events``).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from django_experiments.tracking.views import ClientEventsView

urlpatterns: list[URLPattern | URLResolver] = [
    path("events/", ClientEventsView.as_view(), name="events"),
]
