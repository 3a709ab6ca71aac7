"""Section 1: in-process resolution, 2 treatments 90/10, definitions warm, no store."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from benchmarks import profiling
from benchmarks.report import Report, Row, fmt_us, ratio
from benchmarks.timing import Case, IdSource, Plan, Timing, compare
from django_experiments import experiment
from django_experiments.conf import settings as glex_settings

BUDGET_VS_GROWTHBOOK = 0.8
BUDGET_VS_FLOOR = 4.0


def _no_tracking(*args: Any) -> None:
    return None


def ours_batch(name: str) -> Callable[[Sequence[str]], None]:
    """Resolution alone: the tracking hook is a no-op, as GrowthBook runs without a
    ``trackingCallback`` (the exposure row below measures both with tracking)."""
    from django_experiments.engine.hooks import hooks

    def batch(ids: Sequence[str]) -> None:
        wired, hooks.on_event = hooks.on_event, _no_tracking
        try:
            for uid in ids:
                experiment(name, actor=uid).assigned  # noqa: B018 - resolution is the point
        finally:
            hooks.on_event = wired

    return batch


def ours_tracked_batch(name: str) -> Callable[[Sequence[str]], None]:
    """Resolution and the exposure it records, in a request's scope (events buffered there,
    as the middleware's scope holds them until it closes)."""
    from django_experiments.engine.scope import Scope, activate

    def batch(ids: Sequence[str]) -> None:
        with activate(Scope(deferring=True)) as scope:
            for uid in ids:
                experiment(name, actor=uid).assigned  # noqa: B018
        assert len(scope.events) == len(ids)

    return batch


def growthbook_batches() -> tuple[Callable[[Sequence[str]], None], ...]:
    from growthbook import Experiment as GBExperiment
    from growthbook import GrowthBook

    # The experiment definition is built once, like this project's warm definitions.
    gb_exp: Any = GBExperiment(key="cta", variations=["control", "candidate"], weights=[0.9, 0.1])
    shared = GrowthBook(attributes={"id": ""})
    exposures: list[Any] = []
    tracked = GrowthBook(
        attributes={"id": ""},
        on_experiment_viewed=lambda experiment, result, **_: exposures.append((experiment, result)),
    )

    def same_instance(ids: Sequence[str]) -> None:
        for uid in ids:
            shared.set_attributes({"id": uid})
            shared.run(gb_exp).value  # noqa: B018

    def new_instance(ids: Sequence[str]) -> None:
        for uid in ids:
            GrowthBook(attributes={"id": uid}).run(gb_exp).value  # noqa: B018

    def same_instance_tracked(ids: Sequence[str]) -> None:
        for uid in ids:
            tracked.set_attributes({"id": uid})
            tracked.run(gb_exp).value  # noqa: B018
        exposures.clear()

    return same_instance, new_instance, same_instance_tracked


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


def core_batch(name: str) -> Callable[[Sequence[str]], None]:
    """The algorithm alone: context key (HMAC) + slot (blake2b) + table lookup, warm."""
    from django_experiments.engine import definitions
    from django_experiments.engine.context import key_for

    def batch(ids: Sequence[str]) -> None:
        definition = definitions.get_definition(name)
        assert definition is not None
        for uid in ids:
            definition.treatment_for_key(key_for(name, {"actor": uid}))

    return batch


#: A page of 5 experiments: three share namespace "top", two share "bottom".
NAMESPACED_PAGE = {
    "top": [("ns_a", 30), ("ns_b", 30), ("ns_c", 40)],
    "bottom": [("ns_d", 50), ("ns_e", 50)],
}
PLAIN_PAGE = ["pl_a", "pl_b", "pl_c", "pl_d", "pl_e"]


def setup_pages() -> tuple[list[str], list[str]]:
    """The same 5 experiments (50/50) twice: in 2 namespaces, and in none."""
    from benchmarks import fixtures

    namespaced = [name for members in NAMESPACED_PAGE.values() for name, _ in members]
    for name in namespaced + PLAIN_PAGE:
        fixtures.create_experiment(name, [("control", 50), ("candidate", 50)])
    for namespace, members in NAMESPACED_PAGE.items():
        fixtures.create_namespace(namespace, members)
    fixtures.warm()
    return namespaced, PLAIN_PAGE


def page_batch(names: Sequence[str]) -> Callable[[Sequence[str]], None]:
    """One page per id: a new context, its own scope (as a request's), every experiment
    resolved once; tracking is a no-op, as in the first row."""
    from django_experiments.engine.hooks import hooks
    from django_experiments.engine.scope import Scope, activate

    def batch(ids: Sequence[str]) -> None:
        wired, hooks.on_event = hooks.on_event, _no_tracking
        try:
            for uid in ids:
                with activate(Scope()):
                    for name in names:
                        experiment(name, actor=uid).assigned  # noqa: B018
        finally:
            hooks.on_event = wired

    return batch


def partition_hash_batch(ids: Sequence[str]) -> None:
    """One namespace's keyed hash for a new context (what a page pays per namespace)."""
    from django_experiments.engine.context import identity_material, partition_slot

    for uid in ids:
        partition_slot("namespace/top", identity_material({"actor": uid}))


def namespace_row(report: Report, plan: Plan) -> None:
    namespaced, plain = setup_pages()
    t = compare(
        {
            "namespaced": Case(page_batch(namespaced), IdSource("n1-")),
            "plain": Case(page_batch(plain), IdSource("p1-")),
            "hash": Case(partition_hash_batch, IdSource("x1-")),
        },
        plan.scaled(0.2),
    )
    ns_us, plain_us, hash_us = t["namespaced"].best_us, t["plain"].best_us, t["hash"].best_us
    report.add(
        Row(
            "1",
            "  page of 5 experiments in 2 namespaces, new context, per page (vs the same 5 "
            "without namespaces). Each namespace costs one keyed hash per context, cached on "
            "the scope; an experiment whose range does not hold the context skips its own "
            "context key and slot",
            fmt_us(ns_us),
            f"without namespaces {fmt_us(plain_us)}; one namespace hash {fmt_us(hash_us)} "
            f"(× {len(NAMESPACED_PAGE)} per page)",
            ratio(ns_us, plain_us),
            "(info)",
            None,
        )
    )


@dataclass
class InProcess:
    ours: Timing
    gb_same: Timing
    gb_new: Timing
    waffle: Timing
    floor: Timing
    core: Timing
    ours_tracked: Timing
    gb_tracked: Timing


def run(report: Report, plan: Plan) -> InProcess:
    setup_waffle_flag()
    gb_same, gb_new, gb_tracked = growthbook_batches()
    t = compare(
        {
            "ours": Case(ours_batch("cta"), IdSource("u1-")),
            "gb_same": Case(gb_same, IdSource("g1-")),
            "gb_new": Case(gb_new, IdSource("h1-")),
            "waffle": Case(waffle_batch, waffle_inputs(IdSource("w1-"))),
            "floor": Case(floor_batch, IdSource("f1-")),
            "core": Case(core_batch("cta"), IdSource("c1-")),
            "ours_tracked": Case(ours_tracked_batch("cta"), IdSource("t1-")),
            "gb_tracked": Case(gb_tracked, IdSource("k1-")),
        },
        plan,
    )
    result = InProcess(
        t["ours"],
        t["gb_same"],
        t["gb_new"],
        t["waffle"],
        t["floor"],
        t["core"],
        t["ours_tracked"],
        t["gb_tracked"],
    )
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
    core_us = result.core.best_us
    report.add(
        Row(
            "1",
            "  algorithm alone: key_for + slot table lookup (warm definition)",
            fmt_us(core_us),
            f"GrowthBook {fmt_us(gb)}; floor {fmt_us(floor)}",
            f"{ratio(core_us, gb)} / {ratio(core_us, floor)}",
            "(reachable floor)",
            None,
        )
    )
    ours_t, gb_t = result.ours_tracked.best_us, result.gb_tracked.best_us
    report.add(
        Row(
            "1",
            "  with the exposure recorded (ours: event built and buffered on the request's "
            "scope; GrowthBook: on_experiment_viewed appending to a list)",
            fmt_us(ours_t),
            f"GrowthBook same inst. with on_experiment_viewed {fmt_us(gb_t)}",
            ratio(ours_t, gb_t),
            "(info)",
            None,
        )
    )
    namespace_row(report, plan)
    if not (ours <= BUDGET_VS_GROWTHBOOK * gb and ours <= BUDGET_VS_FLOOR * floor):
        report.findings.append(_finding(result, plan))
    return result


def _finding(result: InProcess, plan: Plan) -> str:
    from django_experiments.engine.decision import decide
    from django_experiments.engine.experiment import Experiment

    ids = IdSource("prof-")(0, max(5_000, plan.calls))
    hot = profiling.top(lambda: ours_batch("cta")(ids), limit=8)
    ours, gb, floor, core = (
        result.ours.best_us,
        result.gb_same.best_us,
        result.floor.best_us,
        result.core.best_us,
    )
    budget = min(BUDGET_VS_GROWTHBOOK * gb, BUDGET_VS_FLOOR * floor)
    return "\n".join(
        [
            f"### 1. In-process resolution: {fmt_us(ours)} vs GrowthBook {fmt_us(gb)} "
            f"(budget {fmt_us(BUDGET_VS_GROWTHBOOK * gb)}) and floor {fmt_us(floor)} "
            f"(budget {fmt_us(BUDGET_VS_FLOOR * floor)})",
            "",
            "cProfile of `experiment('cta', actor=…).assigned`, top own time:",
            "",
            *(f"- {line}" for line in hot),
            "",
            "- Resolution gathers the facts once and lets the pure decision function choose "
            f"(`{profiling.where(Experiment._resolve)}` `_resolve`, "
            f"`{profiling.where(decide)}` `decide`); with no store it reads and writes nothing.",
            f"- The algorithm alone (context-key HMAC + blake2b slot + table lookup) costs "
            f"{fmt_us(core)} ({ratio(core, gb)} GrowthBook, {ratio(core, floor)} floor), so "
            f"{fmt_us(max(0.0, ours - core))} per call is plumbing around it (the `experiment()` "
            "factory, Experiment and Context construction, the Variant returned); the tighter "
            f"budget leaves {fmt_us(max(0.0, budget - core))} for it. The profile above says "
            "where that time goes in this run.",
        ]
    )
