"""tests.urls plus a page that shows an experiment (assignment event), then converts."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def landing(request: HttpRequest, name: str) -> JsonResponse:
    exp = request.experiment(name)  # type: ignore[attr-defined]
    exp.publish()  # shown: the exposure comes first
    exp.track("viewed")  # then the conversion
    return JsonResponse({"variant": exp.assigned.name})


urlpatterns = [
    path("landing/<slug:name>/", landing),
    path("", include("tests.urls")),
]
