"""The same page with and without five experiments resolved for the visitor."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import engines

from django_experiments.engine.scope import current_scope

EXPERIMENTS = tuple(f"bench_{i}" for i in range(1, 6))

_page = engines["django"].from_string(
    "<!doctype html><title>bench</title><h1>Landing</h1>"
    "{% for name, variant in variants %}<p class='{{ name }}'>{{ variant }}</p>{% endfor %}"
    "<p><a href='/signup/'>Sign up</a></p>"
)


def plain(request: HttpRequest) -> HttpResponse:
    # The same markup as with experiments (five fixed variants): only resolution differs.
    variants = [(name, "control") for name in EXPERIMENTS]
    return HttpResponse(_page.render({"variants": variants}, request))


def with_experiments(request: HttpRequest) -> HttpResponse:
    resolve = request.experiment  # type: ignore[attr-defined]
    variants = [(name, resolve(name).assigned.name) for name in EXPERIMENTS]
    response = HttpResponse(_page.render({"variants": variants}, request))
    # Lets the harness check that the middleware bound a scope for this request.
    response["X-Bench-Scope"] = "1" if current_scope() is not None else "0"
    return response
