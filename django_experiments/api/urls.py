from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from django_experiments.api.views import AssignmentsView
from django_experiments.middleware import with_scope

urlpatterns: list[URLPattern | URLResolver] = [
    path("assignments/", with_scope(AssignmentsView.as_view()), name="assignments"),
]
