from __future__ import annotations

from django.urls import path

from benchmarks.stack import views

urlpatterns = [
    path("bench/plain/", views.plain),
    path("bench/experiments/", views.with_experiments),
    path("bench/floor/", views.floor),
]
