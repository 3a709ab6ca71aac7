"""``/bench/<page>/`` and ``/bench/<page>/realistic/`` (the same page plus three queries)."""

from __future__ import annotations

from django.urls import URLPattern, path

from benchmarks.stack import views

PAGES = {
    "plain": views.plain,
    "experiments": views.with_experiments,
    "waffle": views.waffle,
    "growthbook": views.growthbook,
    "floor": views.floor,
    "floor_redis": views.floor_redis,
    "floor_durable": views.floor_durable,
}


def _routes() -> list[URLPattern]:
    routes = []
    for name, view in PAGES.items():
        routes.append(path(f"bench/{name}/", view))
        routes.append(path(f"bench/{name}/realistic/", view, {"realistic": True}))
    return routes


urlpatterns = _routes()
