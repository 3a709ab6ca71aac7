"""django_experiments.testing.hops: counting sync_to_async hops, and its ASGI endpoint."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from asgiref.sync import SyncToAsync, sync_to_async

from django_experiments.testing.hops import Hops, count_hops, label_of, with_hops_endpoint


def work(x: int = 1) -> int:
    return x


def test_counts_each_hop_by_function() -> None:
    original = SyncToAsync.__call__

    async def main() -> None:
        await sync_to_async(work)()
        await sync_to_async(work)(2)
        await sync_to_async(functools.partial(work, 3))()

    with count_hops() as hops:
        asyncio.run(main())
    assert hops.snapshot() == {f"{__name__}.work": 3}
    assert hops.total() == 3 and hops.matching(__name__) == 3 and hops.matching("django.") == 0
    assert SyncToAsync.__call__ is original  # uninstalled after the block


def test_label_of_methods_and_callables() -> None:
    class Thing:
        def method(self) -> None: ...

        def __call__(self) -> None: ...

    assert label_of(Thing().method).endswith(
        "test_label_of_methods_and_callables.<locals>.Thing.method"
    )
    assert label_of(Thing()).endswith(".Thing")


def test_endpoint_answers_outside_the_app_and_resets() -> None:
    hops = Hops()
    hops.record(work)
    calls: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope["path"])

    wrapped = with_hops_endpoint(app, hops)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def request(path: str, query: bytes = b"") -> None:
        scope = {"type": "http", "path": path, "query_string": query}
        await wrapped(scope, None, send)

    asyncio.run(request("/hops/", b"reset=1"))
    assert json.loads(sent[-1]["body"]) == {"hops": {f"{__name__}.work": 1}}
    assert hops.total() == 0
    asyncio.run(request("/page/"))
    assert calls == ["/page/"]
