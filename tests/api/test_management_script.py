"""A token-authenticated script takes an experiment from creation to conclusion over HTTP.

The script is ``example_project/api_client.py`` (standard library only), run as a subprocess
against a live server; between its steps it sends new visitors to a page that resolves and
tracks the experiment (tests/api/script_urls.py), so the results it reads and concludes on
are real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token

from django_experiments.models import Experiment, Phase

ROOT = Path(__file__).resolve().parents[2]
VISITS = 24


@pytest.mark.urls("tests.api.script_urls")
@pytest.mark.django_db(transaction=True)
def test_script_creates_starts_reweights_and_concludes(live_server: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "TRACKING_SINKS": ["django_experiments.tracking.sinks.DatabaseSink"],
    }
    user = User.objects.create_user("ci-bot")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="django_experiments")
    )
    token = Token.objects.create(user=user).key
    command = [
        sys.executable,
        "-m",
        "example_project.api_client",
        f"{live_server.url}/api/glex/",
        token,
        "--name",
        "hero_copy",
        "--visit",
        f"{live_server.url}/landing/hero_copy/",
        "--visits",
        str(VISITS),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    steps = {line["step"]: line["data"] for line in map(json.loads, done.stdout.splitlines())}
    assert list(steps) == ["create", "start", "weights", "results", "conclude"]

    assert steps["create"]["status"] == "draft"
    assert steps["start"]["status"] == "running"
    assert steps["weights"]["number"] == 2 and steps["weights"]["changed_by"] == "ci-bot"
    results = steps["results"]
    assert results["phase"]["number"] == 2
    exposed = {v["name"]: v["exposed"] for v in results["variants"]}
    assert sum(exposed.values()) == VISITS
    [viewed] = [m for m in results["metrics"] if m["event"] == "viewed" and m["kind"] == "binomial"]
    assert {r["variant"]: r["converted"] for r in viewed["rows"]} == exposed
    assert steps["conclude"]["status"] == "concluded"
    assert steps["conclude"]["winner"] in {"control", "short"}

    experiment = Experiment.objects.get(name="hero_copy")
    assert experiment.status == "concluded"
    assert experiment.winner is not None and experiment.winner.name == steps["conclude"]["winner"]
    phases = Phase.objects.filter(experiment=experiment).order_by("number")
    assert [(p.reason, p.changed_by_id) for p in phases] == [
        ("created", user.pk),
        ("weights", user.pk),
    ]
