"""Section 4's rows: every ratio of this project's configurations to each peer, and budgets.

Pure functions of the measured medians, so the verdicts can be tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.report import Row, ratio
from benchmarks.wrk import WrkResult

PAGES = ("trivial", "realistic")
VISITORS = ("new", "returning")
#: This project's configurations (the contenders with budgets).
OURS = {
    # The defaults: TRACKING_HANDOFF "auto" is the Redis list with the Redis store and the
    # broker with STORE "none" (docs/tracking.md, "Hand-off").
    "redis": "Redis store",
    "none": "STORE 'none'",
    # Each store with the other hand-off.
    "redis_broker": "Redis store, 'broker' hand-off",
    "none_handoff": "STORE 'none', 'redis' hand-off",
}
#: The references each configuration is compared with.
PEERS = {
    "waffle": "django-waffle",
    "growthbook": "GrowthBook",
    "floor": "hand-written floor",
    # The floor plus this project's Redis design at its cheapest: the assignments and the
    # exposures in one raw redis-py pipeline. Info rows only.
    "floor_redis": "hand-written Redis floor",
    # The floor plus the durable request-thread work this project does (a Redis pipeline for
    # the assignments, one Celery publish for the exposures): info rows only.
    "floor_durable": "hand-written durable floor",
}
#: The hand-written floor of a configuration's own durable work: its budgets cannot be met
#: where even that floor misses them (the finding says so, from the measured figures).
BOUNDS = {"redis": "floor_redis"}
PLAIN = "plain"
PLAIN_LABEL = "page without experiments"
#: Diagnosis: STORE "none" for requests sending ``DNT: 1``, so no event is published. The
#: difference to STORE "none" is the request thread's tracking hand-off.
NO_EVENTS = "none_dnt"
NO_EVENTS_LABEL = "STORE 'none' with DNT: 1 (no events published)"
RETIRED_BUDGET = 0.9

#: (contender, page, visitor) → median wrk result. The plain page has no visitor state: it is
#: measured once, as "new".
Key = tuple[str, str, str]


@dataclass(frozen=True)
class Budget:
    minimum: float
    visitors: tuple[str, ...]


BUDGETS: dict[tuple[str, str], Budget] = {
    # The same deterministic work that GrowthBook does.
    ("none", "growthbook"): Budget(1.0, VISITORS),
    ("redis", "waffle"): Budget(1.0, VISITORS),
    ("redis", "growthbook"): Budget(0.9, VISITORS),
    # Every configuration, new visitors: within 10 % of the hand-written floor.
    ("redis", "floor"): Budget(0.9, ("new",)),
    ("none", "floor"): Budget(0.9, ("new",)),
}


def targets() -> list[Key]:
    """Every (contender, page, visitor) the section measures."""
    out: list[Key] = []
    for page in PAGES:
        out.append((PLAIN, page, "new"))
        for visitor in VISITORS:
            out += [(contender, page, visitor) for contender in (*OURS, *PEERS, NO_EVENTS)]
    return out


def _reference(results: Mapping[Key, WrkResult], peer: str, page: str, visitor: str) -> WrkResult:
    return results[(peer, page, "new" if peer == PLAIN else visitor)]


def ratios(mine: WrkResult, theirs: WrkResult) -> str:
    """req/s ratio, and the CPU-per-request ratio (theirs / ours: same direction) if measured."""
    text = ratio(mine.rps, theirs.rps)
    if mine.cpu_us and theirs.cpu_us:
        text += f" (CPU {theirs.cpu_us / mine.cpu_us:.2f}×)"
    return text


def family(ours: str) -> str:
    """The store a configuration's budgets are those of ("redis" or "none")."""
    return ours.removesuffix("_handoff").removesuffix("_broker")


def budget_for(ours: str, peer: str, visitor: str) -> Budget | None:
    """The budget of a default configuration (the store with the default hand-off); the
    other hand-off of each store is reported beside it, as information."""
    if family(ours) != ours:
        return None
    budget = BUDGETS.get((ours, peer))
    return budget if budget is not None and visitor in budget.visitors else None


def rows(results: Mapping[Key, WrkResult]) -> list[Row]:
    """Per page, configuration and visitor kind: one row per reference (budget or info)."""
    out: list[Row] = []
    for page in PAGES:
        for ours, ours_label in OURS.items():
            for visitor in VISITORS:
                mine = results[(ours, page, visitor)]
                for peer, peer_label in (*PEERS.items(), (PLAIN, PLAIN_LABEL)):
                    theirs = _reference(results, peer, page, visitor)
                    budget = budget_for(ours, peer, visitor)
                    if budget is not None:
                        verdict: str = f"≥ {budget.minimum:.1f}× {peer_label}"
                        passed: bool | None = mine.rps >= budget.minimum * theirs.rps
                    elif peer == PLAIN:
                        verdict = f"(info; retired: ≥ {RETIRED_BUDGET}×)"
                        passed = None
                    else:
                        verdict, passed = "(info)", None
                    out.append(
                        Row(
                            "4" if budget is not None else "4*",
                            f"full stack, {page} page, {visitor} visitors: "
                            f"{ours_label} vs {peer_label} (req/s)",
                            mine.figures(),
                            f"{peer_label}: {theirs.figures()}",
                            ratios(mine, theirs),
                            verdict,
                            passed,
                        )
                    )
        plain = results[(PLAIN, page, "new")]
        for visitor in VISITORS:
            quiet, tracked = results[(NO_EVENTS, page, visitor)], results[("none", page, visitor)]
            growthbook = results[("growthbook", page, visitor)]
            floor = results[("floor", page, visitor)]
            out.append(
                Row(
                    "4*",
                    f"  {page} page, {visitor} visitors, diagnosis: {NO_EVENTS_LABEL}",
                    quiet.figures(),
                    f"STORE 'none' (events published): {tracked.rps:.0f} req/s; GrowthBook "
                    f"{growthbook.rps:.0f} req/s; floor {floor.rps:.0f} req/s",
                    f"{ratios(quiet, tracked)} / {ratios(quiet, growthbook)} / "
                    f"{ratios(quiet, floor)}",
                    "(info: vs STORE 'none' / GrowthBook / floor)",
                    None,
                )
            )
        for peer, peer_label in PEERS.items():
            new, back = results[(peer, page, "new")], results[(peer, page, "returning")]
            out.append(
                Row(
                    "4*",
                    f"  {page} page, peer: {peer_label} (new / returning visitors)",
                    f"new {new.figures()}; returning {back.rps:.0f} req/s",
                    f"{PLAIN_LABEL}: {plain.figures()}",
                    f"{ratio(new.rps, plain.rps)} / {ratio(back.rps, plain.rps)}",
                    "(info)",
                    None,
                )
            )
    return out


def failures(results: Mapping[Key, WrkResult]) -> list[str]:
    """The failed budgets, one line each, with the bound that the configuration's own
    hand-written floor sets where there is one (:data:`BOUNDS`)."""
    out = []
    for (store, peer), budget in BUDGETS.items():
        for ours, page in ((o, p) for o in OURS if o == store for p in PAGES):
            for visitor in budget.visitors:
                mine = results[(ours, page, visitor)]
                theirs = _reference(results, peer, page, visitor)
                if mine.rps < budget.minimum * theirs.rps:
                    line = (
                        f"{OURS[ours]} vs {PEERS[peer]}, {page} page, {visitor} visitors: "
                        f"{ratio(mine.rps, theirs.rps)} (budget ≥ {budget.minimum:.1f}×)"
                    )
                    out.append(line + _bound(results, ours, peer, page, visitor, budget))
    return out


def _bound(
    results: Mapping[Key, WrkResult], ours: str, peer: str, page: str, visitor: str, b: Budget
) -> str:
    """What the configuration's hand-written floor scores against the same reference."""
    floor = BOUNDS.get(ours)
    if floor is None or floor == peer:
        return ""
    bound = results[(floor, page, visitor)].rps / _reference(results, peer, page, visitor).rps
    verdict = (
        "out of reach for this design: even that floor misses the budget"
        if bound < b.minimum
        else "within reach of the design: the gap is this project's own overhead"
    )
    return f"; the {PEERS[floor]} scores {bound:.2f}×, {verdict}"


def worker_us(cores: int, result: WrkResult) -> float:
    """Worker CPU per request as measured, else worker time: sync workers serve one at a time."""
    if result.cpu_us is not None:
        return result.cpu_us
    return cores / result.rps * 1e6 if result.rps else float("inf")


def finding(results: Mapping[Key, WrkResult], cores: int, rtt_us: float | None) -> str:
    """The failed budgets and where the worker time goes, contender by contender."""
    failed = failures(results)
    contenders = {**{k: f"this project, {v}" for k, v in OURS.items()}, **PEERS}
    lines = [
        f"### 4. Full stack: {len(failed)} budget(s) failed",
        "",
        *(f"- {line}" for line in failed),
        "",
        "Worker CPU time per request (from /proc; where not measured, worker time: "
        f"{cores} sync workers / req/s) above the page without experiments:",
        "",
        "| contender | " + " | ".join(f"{p} page, {v}" for p in PAGES for v in VISITORS) + " |",
        "|---|" + "---|" * (len(PAGES) * len(VISITORS)),
    ]
    for contender, label in contenders.items():
        cells = []
        for page in PAGES:
            plain_us = worker_us(cores, results[(PLAIN, page, "new")])
            for visitor in VISITORS:
                extra = worker_us(cores, results[(contender, page, visitor)]) - plain_us
                cells.append(f"{extra:+.0f} µs")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    page_us = worker_us(cores, results[(PLAIN, "trivial", "new")])
    floor_us = worker_us(cores, results[("floor", "trivial", "new")])
    lines += [
        "",
        f"- On the trivial page, the page without experiments costs ~{page_us:.0f} µs of worker "
        f"CPU per request and the floor ~{floor_us:.0f} µs; ≥ 0.9× the floor allows "
        f"~{floor_us / 0.9 - page_us:.0f} µs over the page without experiments.",
    ]
    if rtt_us is not None:
        lines.append(
            f"- One raw redis-py HGET round trip (section 2) takes {rtt_us:.0f} µs: a returning "
            "visitor's stored assignments cost at least one of them."
        )
    return "\n".join(lines)
