"""One page, one template, five ways to fill in five experiments' variants.

Every view renders the same template with the same markup; only how the variants are decided
differs. Each view also serves a "realistic" variant of the page (``realistic=True``): the
same page plus three small ORM queries on the demo table (benchmarks/stack/models.py).

- ``plain``: no experiments (five fixed variants);
- ``with_experiments``: this project (``request.experiment(name).assigned.name``);
- ``waffle``: django-waffle's ``flag_is_active`` on five percent flags;
- ``growthbook``: ``GrowthBook.run`` on the request's instance (growthbook_middleware.py);
- ``floor``: the same work hand-written, the lower bound for any library;
- ``floor_redis``: the floor plus this project's own durable design at its cheapest, by hand:
  the five assignments (set-if-absent) and the five exposures (one JSON list element) in one
  raw redis-py pipeline before the response, for new and returning visitors alike (a
  returning visitor on unchanged slots needs no read);
- ``floor_durable``: the floor plus the durable work this project does on the request thread
  (assignments stored in Redis, exposures published to the broker), hand-written with raw
  redis-py and Celery's ``send_task``: the lower bound for a library that stores and records.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.utils.cache import patch_vary_headers

from benchmarks.stack.growthbook_middleware import experiments as growthbook_experiments
from benchmarks.stack.models import Article

EXPERIMENTS = tuple(f"bench_{i}" for i in range(1, 6))
ARTICLES = 50  # rows prepare.py creates

_page = engines["django"].from_string(
    "<!doctype html><title>bench</title><h1>Landing</h1>"
    "{% for name, variant in variants %}<p class='{{ name }}'>{{ variant }}</p>{% endfor %}"
    "{% if realistic %}<p>{{ total }} articles</p>"
    "{% if featured %}<h2>{{ featured.title }}</h2>{% endif %}"
    "<ul>{% for article in latest %}<li>{{ article.title }}</li>{% endfor %}</ul>{% endif %}"
    "<p><a href='/signup/'>Sign up</a></p>"
)


def _articles() -> dict[str, Any]:
    """Three small queries, as a typical content page runs them."""
    published = Article.objects.filter(published=True)
    return {
        "latest": list(published.order_by("-id")[:5]),
        "total": published.count(),
        "featured": published.filter(featured=True).first(),
    }


def _respond(
    request: HttpRequest, variants: list[tuple[str, str]], realistic: bool
) -> HttpResponse:
    context: dict[str, Any] = {"variants": variants, "realistic": realistic}
    if realistic:
        context.update(_articles())
    return HttpResponse(_page.render(context, request))


def plain(request: HttpRequest, realistic: bool = False) -> HttpResponse:
    # The same markup as with experiments (five fixed variants): only resolution differs.
    return _respond(request, [(name, "control") for name in EXPERIMENTS], realistic)


def with_experiments(request: HttpRequest, realistic: bool = False) -> HttpResponse:
    resolve = request.experiment  # type: ignore[attr-defined]
    # The explicit multi-read (one round trip for a returning visitor's stored assignments),
    # once the core has it.
    if hasattr(resolve, "prefetch"):
        resolve.prefetch(*EXPERIMENTS)
    variants = [(name, resolve(name).assigned.name) for name in EXPERIMENTS]
    return _respond(request, variants, realistic)


def waffle(request: HttpRequest, realistic: bool = False) -> HttpResponse:
    from waffle import flag_is_active

    variants = [
        (name, "candidate" if flag_is_active(request, name) else "control") for name in EXPERIMENTS
    ]
    return _respond(request, variants, realistic)


_GROWTHBOOK = growthbook_experiments(EXPERIMENTS)


def growthbook(request: HttpRequest, realistic: bool = False) -> HttpResponse:
    gb = request.growthbook  # type: ignore[attr-defined]
    variants = [(name, gb.run(_GROWTHBOOK[name]).value) for name in EXPERIMENTS]
    return _respond(request, variants, realistic)


_KEY = hashlib.sha256(b"bench-floor").digest()
FLOOR_COOKIE = "bench_floor"
_FLOOR_SALT = "bench-floor"
_FLOOR_MAX_AGE = 60 * 60 * 24 * 365 * 2


def floor(request: HttpRequest, realistic: bool = False) -> HttpResponse:
    """What any library must do for five experiments, hand-written.

    Is the visitor logged in (load ``request.user``), read the signed visitor cookie or mint an
    anonymous id, give each experiment its own keyed hash of it (HMAC-SHA256, as context keys
    are) reduced to one of 10,000 slots, set the signed cookie when minted and ``Vary:
    Cookie``. No engine, no store, no definitions: the lower bound for the experiments page's
    extra cost.
    """
    visitor, minted = _floor_visitor(request)
    response = _respond(request, _floor_variants(visitor), realistic)
    return _floor_cookie(response, visitor, minted)


def _floor_visitor(request: HttpRequest) -> tuple[str, bool]:
    """Load ``request.user``; the signed visitor id, minted when absent (and whether it was)."""
    request.user.is_authenticated  # noqa: B018
    visitor = request.get_signed_cookie(
        FLOOR_COOKIE, default=None, salt=_FLOOR_SALT, max_age=_FLOOR_MAX_AGE
    )
    if visitor is None:
        return uuid.uuid4().hex, True
    return visitor, False


def _floor_variants(visitor: str) -> list[tuple[str, str]]:
    """Each experiment's own keyed hash of the visitor, reduced to one of 10,000 slots."""
    variants = []
    for name in EXPERIMENTS:
        digest = hmac.new(_KEY, f"{name}:{visitor}".encode(), hashlib.sha256).digest()
        slot = int.from_bytes(digest[:8], "big") % 10_000
        variants.append((name, "control" if slot < 5_000 else "candidate"))
    return variants


def _floor_cookie(response: HttpResponse, visitor: str, minted: bool) -> HttpResponse:
    if minted:
        response.set_signed_cookie(
            FLOOR_COOKIE,
            visitor,
            salt=_FLOOR_SALT,
            max_age=_FLOOR_MAX_AGE,
            secure=False,
            httponly=True,
            samesite="Lax",
        )
    patch_vary_headers(response, ("Cookie",))
    return response


_DURABLE_PREFIX = "glexstack-floor"  # bench_stack clears *glexstack* between runs


def _floor_events(visitor: str, variants: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The five exposures as the durable floors record them (a minimal event each)."""
    now = time.time()
    return [
        {
            "id": uuid.uuid4().hex,
            "event": "assignment",
            "experiment": name,
            "variant": variant,
            "context": visitor,
            "timestamp": now,
        }
        for name, variant in variants
    ]


def floor_durable(request: HttpRequest, realistic: bool = False) -> HttpResponse:
    """The floor, plus what a sticky, recording library must do before the response returns.

    A new visitor: one pipelined round trip of five ``HSETNX`` (its assignments). A returning
    visitor: one pipelined round trip of five ``HGET`` (a missing one is written as for a new
    visitor). Every visitor: the five exposures published as one Celery task on the request
    thread (no thread, nothing left in memory), as this project's producer does.
    """
    from celery import current_app
    from django.conf import settings
    from django_redis import get_redis_connection

    visitor, minted = _floor_visitor(request)
    computed = _floor_variants(visitor)
    redis = get_redis_connection("store")
    stored: list[Any] = [None] * len(computed)
    if not minted:
        pipe = redis.pipeline(transaction=False)
        for name, _ in computed:
            pipe.hget(f"{_DURABLE_PREFIX}:{{{name}}}", visitor)
        stored = pipe.execute()
    variants = [
        (name, value.decode() if value is not None else variant)
        for (name, variant), value in zip(computed, stored, strict=True)
    ]
    if any(value is None for value in stored):
        pipe = redis.pipeline(transaction=False)
        for (name, variant), value in zip(computed, stored, strict=True):
            if value is None:
                pipe.hsetnx(f"{_DURABLE_PREFIX}:{{{name}}}", visitor, variant)
        pipe.execute()
    events = _floor_events(visitor, variants)
    current_app.send_task(
        "django_experiments.tracking.deliver",
        kwargs={"events": events},
        # As this project's producer does: Celery otherwise builds a repr of every event.
        argsrepr="()",
        kwargsrepr="{events: <5 events>}",
        queue=settings.DJANGO_EXPERIMENTS.get("TRACKING_QUEUE"),
    )
    response = _respond(request, variants, realistic)
    return _floor_cookie(response, visitor, minted)


_REDIS_EVENTS = "glexstack-events-floor"  # bench_stack clears *glexstack-events* after each run


def floor_redis(request: HttpRequest, realistic: bool = False) -> HttpResponse:
    """The floor, plus one raw pipeline: five ``HSETNX`` and an ``RPUSH`` of the exposures.

    The lower bound for this project's Redis store with its default ("redis" list) hand-off:
    what must be durable when the response leaves, with nothing else around it.
    """
    import json

    from django_redis import get_redis_connection

    visitor, minted = _floor_visitor(request)
    variants = _floor_variants(visitor)
    events = _floor_events(visitor, variants)
    pipe = get_redis_connection("store").pipeline(transaction=False)
    for name, variant in variants:
        pipe.hsetnx(f"{_DURABLE_PREFIX}:{{{name}}}", visitor, variant)
    pipe.rpush(_REDIS_EVENTS, json.dumps(events, separators=(",", ":")))
    pipe.execute()
    response = _respond(request, variants, realistic)
    return _floor_cookie(response, visitor, minted)
