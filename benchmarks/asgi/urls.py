from __future__ import annotations

from django.urls import path

from benchmarks.asgi import views

urlpatterns = [
    path("bench/async/", views.async_experiments),
    path("bench/async-one-hop/", views.async_one_hop),
    path("bench/sync/", views.sync_experiments),
    path("bench/async-plain/", views.async_plain),
    path("bench/sync-plain/", views.sync_plain),
]
