"""An async and a sync view doing the same work, and the server's hop counter."""

from __future__ import annotations

import time
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest, JsonResponse

#: "cta" and four more, for pages that resolve several experiments.
EXPERIMENTS = ("cta", "e2", "e3", "e4", "e5")


def _names(request: HttpRequest) -> list[str]:
    count = max(1, min(len(EXPERIMENTS), int(request.GET.get("n", "1"))))
    names = list(EXPERIMENTS[:count])
    if request.GET.get("repeat"):
        names += names  # the same experiments again: memoised within the request
    return names


def _body(exps: list[Any]) -> dict[str, Any]:
    exps[0].publish()  # shown to the visitor: its assignment event
    return {"assigned": {e.name: [e.assigned.name, e.context.key] for e in exps}}


async def async_page(request: HttpRequest) -> JsonResponse:
    exps = [await request.aexperiment(name) for name in _names(request)]  # type: ignore[attr-defined]
    exps[0].track("viewed", value=1)
    return JsonResponse(_body(exps))


def sync_page(request: HttpRequest) -> JsonResponse:
    exps = [request.experiment(name) for name in _names(request)]  # type: ignore[attr-defined]
    exps[0].track("viewed", value=1)
    return JsonResponse(_body(exps))


def _order(exp: Any) -> str:
    """A row written in a transaction that stays open a little, with an event about it."""
    name = uuid.uuid4().hex
    with transaction.atomic():
        Group.objects.create(name=name)
        exp.track("ordered", group=name)
        time.sleep(0.01)  # other requests run (and flush) while this one is uncommitted
    return name


async def async_order(request: HttpRequest) -> JsonResponse:
    exp = await request.aexperiment("cta")  # type: ignore[attr-defined]
    group = await sync_to_async(_order)(exp)
    return JsonResponse({**_body([exp]), "group": group})


def sync_order(request: HttpRequest) -> JsonResponse:
    exp = request.experiment("cta")  # type: ignore[attr-defined]
    group = _order(exp)
    return JsonResponse({**_body([exp]), "group": group})
