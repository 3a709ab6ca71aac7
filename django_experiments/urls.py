"""``path("experiments/", include("django_experiments.urls"))``."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "django_experiments"

urlpatterns: list[URLPattern | URLResolver] = []
