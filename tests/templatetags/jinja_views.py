"""Pages rendered with Django's Jinja2 backend (tests/settings.py), through the middleware."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import engines
from django.urls import include, path

# The Jinja2 twins of tests/web/views.py TEMPLATES: same names, same expected output.
TEMPLATES = {
    "plain": '[{{ experiment("cta") }}]',
    "variable": "[{{ experiment(exp_name) }}]",
    "explicit": '[{{ experiment("cta", "candidate") }}]',
    "as": '{% set cta = get_experiment("cta", actor=request.user, project=project) %}'
    "[{{ cta.assigned.name }}|{{ cta.assigned.payload.label }}]",
    "ifvariant": '{% if ifvariant("cta", "candidate") %}YES{% else %}NO{% endif %}',
    "ifvariant_noelse": '[{% if ifvariant(exp_name, "control") %}C{% endif %}]',
    "json": '{{ experiment("cta") }}{{ experiments_json() }}',
    "escape": '{{ experiment("xss") }}',
    "track": '{{ track("cta", "clicked", value=2, button="hero") }}tracked',
    "several": '{{ "Y" if ifvariant("cta", "control", "candidate", actor="x") else "N" }}',
}


def page(request: HttpRequest, which: str) -> HttpResponse:
    nonce = request.GET.get("nonce")
    if nonce:
        request.csp_nonce = nonce  # type: ignore[attr-defined]
    template = engines["jinja2"].from_string(TEMPLATES[which])
    context = {"exp_name": request.GET.get("name", "cta"), "project": "p1"}
    return HttpResponse(template.render(context, request=request))


def file_page(request: HttpRequest) -> HttpResponse:
    """A template file found by the backend's DIRS (tests/templates/jinja2/)."""
    return render(request, "experiments_page.html", {"headline": "Hi"}, using="jinja2")


urlpatterns = [
    path("jinja/file/", file_page),
    path("jinja/<slug:which>/", page),
    path("", include("tests.urls")),
]
