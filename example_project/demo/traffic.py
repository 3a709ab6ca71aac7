"""Simulated visitors for the demo: real requests through the demo's own pages.

Each visitor is a new cookie jar (a new anonymous context) driven through Django's request
handler with the test client, so every event takes the path a browser's would: the middleware
resolves and stores the assignment, the views track, the request's events are handed to Celery
after the response (eager in the demo) and the database sink writes them for the results pages.

Assignments are the engine's own (new random context keys); conversions are drawn from
per-variant rates with a seeded generator, so every run tells the same story: the candidates
do better.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field

from django.test import Client

# Chance that a visitor in each variant converts, per experiment.
RATES: dict[str, dict[str, float]] = {
    "cta": {"control": 0.10, "candidate": 0.16},  # clicks the sign-up button
    "pricing": {"control": 0.30, "discount": 0.42},  # follows the tracked link
    "headline": {"control": 0.08, "candidate": 0.13},  # subscribes
}

_VARIANT = re.compile(r'data-experiment="(?P<name>[\w-]+)" data-variant="(?P<variant>[\w-]*)"')


@dataclass
class Traffic:
    visitors: int = 0
    requests: int = 0
    seen: Counter[tuple[str, str]] = field(default_factory=Counter)
    converted: Counter[tuple[str, str]] = field(default_factory=Counter)


class PageError(RuntimeError):
    """A demo page did not answer as a browser would need it to."""


def variant_on(html: str, experiment: str) -> str:
    for match in _VARIANT.finditer(html):
        if match["name"] == experiment:
            return match["variant"]
    raise PageError(f"the page does not show the {experiment!r} variant")


def simulate(visitors: int, seed: int = 13) -> Traffic:
    """Send ``visitors`` new anonymous visitors through the landing, pricing and headline pages."""
    rng = random.Random(seed)
    traffic = Traffic()

    def get(client: Client, path: str) -> str:
        response = client.get(path, follow=True)
        traffic.requests += 1 + len(response.redirect_chain)
        if response.status_code != 200:
            raise PageError(f"GET {path} answered {response.status_code}")
        return response.content.decode()

    def post(client: Client, path: str) -> str:
        response = client.post(path, follow=True)
        traffic.requests += 1 + len(response.redirect_chain)
        if response.status_code != 200:
            raise PageError(f"POST {path} answered {response.status_code}")
        return response.content.decode()

    def converts(experiment: str, variant: str) -> bool:
        traffic.seen[experiment, variant] += 1
        hit = rng.random() < RATES[experiment].get(variant, 0.0)
        if hit:
            traffic.converted[experiment, variant] += 1
        return hit

    for _ in range(visitors):
        client = Client()
        traffic.visitors += 1
        landing = get(client, "/")
        if converts("cta", variant_on(landing, "cta")):
            pricing = post(client, "/cta/")  # tracks "clicked", redirects to /pricing/
        else:
            pricing = get(client, "/pricing/")
        if converts("pricing", variant_on(pricing, "pricing")):
            link = re.search(r'href="(/experiments/r/[^"]+)"', pricing)
            if link is None:
                raise PageError("the pricing page has no tracked link")
            get(client, link[1].replace("&amp;", "&"))  # tracks "visited", redirects home
        headline = get(client, "/headline/")
        if converts("headline", variant_on(headline, "headline")):
            post(client, "/headline/")  # tracks "subscribed"
    return traffic
