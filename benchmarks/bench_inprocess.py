"""Section 1: in-process resolution, 2 treatments 90/10, definitions warm, no store."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from benchmarks.report import Report, Row, fmt_us, ratio
from benchmarks.timing import Case, IdSource, Plan, Timing, compare
from django_experiments import experiment
from django_experiments.conf import settings as glex_settings

BUDGET_VS_GROWTHBOOK = 0.8
BUDGET_VS_FLOOR = 4.0


def ours_batch(name: str) -> Callable[[Sequence[str]], None]:
    def batch(ids: Sequence[str]) -> None:
        for uid in ids:
            experiment(name, actor=uid).assigned  # noqa: B018 - resolution is the point

    return batch


def growthbook_batches() -> tuple[Callable[[Sequence[str]], None], Callable[[Sequence[str]], None]]:
    from growthbook import Experiment as GBExperiment
    from growthbook import GrowthBook

    # The experiment definition is built once, like this project's warm definitions.
    gb_exp: Any = GBExperiment(key="cta", variations=["control", "candidate"], weights=[0.9, 0.1])
    shared = GrowthBook(attributes={"id": ""})

    def same_instance(ids: Sequence[str]) -> None:
        for uid in ids:
            shared.set_attributes({"id": uid})
            shared.run(gb_exp).value  # noqa: B018

    def new_instance(ids: Sequence[str]) -> None:
        for uid in ids:
            GrowthBook(attributes={"id": uid}).run(gb_exp).value  # noqa: B018

    return same_instance, new_instance


def setup_waffle_flag() -> None:
    from waffle.models import Flag

    # 10 % on: the same 90/10 split as the experiment.
    Flag.objects.update_or_create(name="cta", defaults={"percent": 10, "everyone": None})


def waffle_batch(requests: Sequence[HttpRequest]) -> None:
    from waffle import flag_is_active

    for request in requests:
        flag_is_active(request, "cta")


def waffle_inputs(ids: IdSource) -> Callable[[int, int], list[HttpRequest]]:
    def build(repeat: int, calls: int) -> list[HttpRequest]:
        # A new visitor per call: a request with no waffle cookie, built outside the timing.
        out = []
        for _ in ids(repeat, calls):
            request = HttpRequest()
            request.user = AnonymousUser()
            out.append(request)
        return out

    return build


def floor_batch(ids: Sequence[str]) -> None:
    key = glex_settings.context_key_secret
    for uid in ids:
        digest = hmac.digest(key, f"cta\x1d{uid}".encode(), "sha256")
        int.from_bytes(digest[:8], "big") % 10_000 < 9_000  # noqa: B015


@dataclass
class InProcess:
    ours: Timing
    gb_same: Timing
    gb_new: Timing
    waffle: Timing
    floor: Timing


def run(report: Report, plan: Plan) -> InProcess:
    setup_waffle_flag()
    gb_same, gb_new = growthbook_batches()
    t = compare(
        {
            "ours": Case(ours_batch("cta"), IdSource("u1-")),
            "gb_same": Case(gb_same, IdSource("g1-")),
            "gb_new": Case(gb_new, IdSource("h1-")),
            "waffle": Case(waffle_batch, waffle_inputs(IdSource("w1-"))),
            "floor": Case(floor_batch, IdSource("f1-")),
        },
        plan,
    )
    result = InProcess(t["ours"], t["gb_same"], t["gb_new"], t["waffle"], t["floor"])
    ours = result.ours.best_us
    gb = result.gb_same.best_us
    floor = result.floor.best_us
    peers = (
        f"GrowthBook same inst. {fmt_us(gb)}; new inst. {fmt_us(result.gb_new.best_us)}; "
        f"waffle {fmt_us(result.waffle.best_us)}"
    )
    report.add(
        Row(
            "1",
            "resolve 90/10, no store, new context (vs GrowthBook same instance)",
            fmt_us(ours),
            peers,
            ratio(ours, gb),
            f"≤ {BUDGET_VS_GROWTHBOOK}× GrowthBook",
            ours <= BUDGET_VS_GROWTHBOOK * gb,
        )
    )
    report.add(
        Row(
            "1",
            "resolve 90/10, no store, new context (vs stdlib floor)",
            fmt_us(ours),
            f"floor hmac-sha256 + mod {fmt_us(floor)}",
            ratio(ours, floor),
            f"≤ {BUDGET_VS_FLOOR:g}× floor",
            ours <= BUDGET_VS_FLOOR * floor,
        )
    )
    return result
