"""The same page with and without five experiments resolved for the visitor, and its floor."""

from __future__ import annotations

import hashlib
import hmac
import uuid

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.utils.cache import patch_vary_headers

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


_KEY = hashlib.sha256(b"bench-floor").digest()


def floor(request: HttpRequest) -> HttpResponse:
    """What any library must do for a new visitor and five experiments, hand-written.

    Is the visitor logged in (load ``request.user``), mint an anonymous id, give each
    experiment its own keyed hash of it (HMAC-SHA256, as context keys are) reduced to one of
    10,000 slots, set the signed cookie and ``Vary: Cookie``. No engine, no store, no
    definitions: the lower bound for the experiments page's extra cost.
    """
    request.user.is_authenticated  # noqa: B018
    visitor = uuid.uuid4().hex
    variants = []
    for name in EXPERIMENTS:
        digest = hmac.new(_KEY, f"{name}:{visitor}".encode(), hashlib.sha256).digest()
        slot = int.from_bytes(digest[:8], "big") % 10_000
        variants.append((name, "control" if slot < 5_000 else "candidate"))
    response = HttpResponse(_page.render({"variants": variants}, request))
    response.set_signed_cookie(
        "bench_floor",
        visitor,
        salt="bench-floor",
        max_age=60 * 60 * 24 * 365 * 2,
        secure=False,
        httponly=True,
        samesite="Lax",
    )
    patch_vary_headers(response, ("Cookie",))
    return response
