"""Take an experiment from creation to conclusion through the management API.

A script as a CI job would write it: standard library only, DRF token authentication::

    python -m example_project.api_client http://127.0.0.1:8000/api/ TOKEN --name hero_copy

Steps: create (draft, two treatments), start, change the weights (a new phase recorded with
the token's user), optionally send ``--visits`` new visitors to ``--visit`` so there are
results, read the results, and conclude with the variant that converted best on ``--event``
(control when nothing converted). Prints one JSON line per step.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from typing import Any


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/") + "/"
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=self.headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")


def best_variant(results: dict[str, Any], event: str) -> str:
    """The variant with the highest conversion rate on ``event`` (control when none has one).

    ``results`` is the admin results page's JSON document: per metric (an event and a kind),
    one row per variant with ``mean``, the share of exposed contexts that converted.
    """
    rows = [
        row
        for metric in results["metrics"]
        if metric["event"] == event and metric["kind"] == "binomial"
        for row in metric["rows"]
        if row["mean"] is not None
    ]
    if not rows:
        return str(results["control"])
    return str(max(rows, key=lambda row: row["mean"])["variant"])


def visit(url: str, times: int) -> None:
    """New visitors: no cookie is kept between requests."""
    for _ in range(times):
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "base", help="where management_urls is mounted, e.g. http://127.0.0.1:8000/api/"
    )
    parser.add_argument("token", help="a DRF token of a user with the model permissions")
    parser.add_argument("--name", default="hero_copy")
    parser.add_argument("--visit", help="a page that resolves the experiment")
    parser.add_argument("--visits", type=int, default=0)
    parser.add_argument("--event", default="viewed", help="the conversion event to judge by")
    args = parser.parse_args(argv)
    api = Api(args.base, args.token)
    name = args.name

    def step(label: str, data: Any) -> Any:
        print(json.dumps({"step": label, "data": data}, sort_keys=True), flush=True)
        return data

    step(
        "create",
        api.call(
            "POST",
            "experiments/",
            {
                "name": name,
                "hypothesis": "Shorter copy converts better.",
                "treatments": [
                    {"name": "control", "weight": 1, "is_control": True, "payload": {"t": "Go"}},
                    {"name": "short", "weight": 1, "payload": {"t": "Go!"}},
                ],
            },
        ),
    )
    step("start", api.call("POST", f"experiments/{name}/start/", {}))
    step("weights", api.call("POST", f"experiments/{name}/weights/", {"weights": {"short": 3}}))
    if args.visit and args.visits:
        visit(args.visit, args.visits)
    results = step("results", api.call("GET", f"experiments/{name}/results/"))
    winner = best_variant(results, args.event)
    step("conclude", api.call("POST", f"experiments/{name}/conclude/", {"winner": winner}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
