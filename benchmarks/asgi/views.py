"""Section 4's page (five experiments), as an async view and as a sync view.

The async view resolves with ``await request.aexperiment(name)``, the documented async API;
the sync one with ``request.experiment(name)``. The plain twins render the same markup
without experiments: the server's own async/sync difference.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from benchmarks.stack.views import EXPERIMENTS, _page


def _render(request: HttpRequest, variants: list[tuple[str, str]]) -> HttpResponse:
    return HttpResponse(_page.render({"variants": variants}, request))


async def async_experiments(request: HttpRequest) -> HttpResponse:
    aexperiment = request.aexperiment  # type: ignore[attr-defined]
    variants = [(name, (await aexperiment(name)).assigned.name) for name in EXPERIMENTS]
    return _render(request, variants)


async def async_one_hop(request: HttpRequest) -> HttpResponse:
    """The 5 resolutions in one ``sync_to_async`` call: what a batch ``aexperiments()`` or an
    inline (hop-free) fast path would save over five ``aexperiment()`` hops."""
    resolve = request.experiment  # type: ignore[attr-defined]

    def resolve_all() -> list[tuple[str, str]]:
        return [(name, resolve(name).assigned.name) for name in EXPERIMENTS]

    return _render(request, await sync_to_async(resolve_all)())


def sync_experiments(request: HttpRequest) -> HttpResponse:
    resolve = request.experiment  # type: ignore[attr-defined]
    return _render(request, [(name, resolve(name).assigned.name) for name in EXPERIMENTS])


async def async_plain(request: HttpRequest) -> HttpResponse:
    return _render(request, [(name, "control") for name in EXPERIMENTS])


def sync_plain(request: HttpRequest) -> HttpResponse:
    return _render(request, [(name, "control") for name in EXPERIMENTS])
