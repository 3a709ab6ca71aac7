"""What the client sees: ``{% experiments_json %}`` and the client API publish only
client-visible experiments that are running, or paused for a context with a stored variant."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from django_experiments import services
from django_experiments.engine.definitions import invalidate
from django_experiments.models import Experiment, Treatment

pytestmark = pytest.mark.django_db

NAMES = ["cta", "hidden", "draft", "concluded", "paused"]
DRAFT_SECRET = "unreleased-pricing-copy"


@pytest.fixture
def experiments(make_experiment: Any) -> dict[str, Experiment]:
    made = {}
    for name in NAMES:
        status = {"draft": "draft", "concluded": "concluded"}.get(name, "running")
        made[name] = make_experiment(name, status=status)
        made[name].client_visible = name != "hidden"
        made[name].save()
    Treatment.objects.filter(experiment=made["draft"]).update(payload={"copy": DRAFT_SECRET})
    invalidate()
    return made


def _json_tag(client: Client) -> dict[str, Any]:
    html = client.get("/web/template/json_all/", {"names": NAMES}).content.decode()
    match = re.search(r"Object\.assign\(window\.experiments \|\| \{\}, (.*)\);</script>", html)
    assert match, html
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def _api(client: Client) -> dict[str, Any]:
    response = client.get("/experiments/assignments/", {"experiments": ",".join(NAMES)})
    assert response.status_code == 200
    assert DRAFT_SECRET not in response.content.decode()
    data: dict[str, Any] = response.json()["experiments"]
    return data


def _pause(exp: Experiment) -> None:
    services.pause(exp)
    invalidate()


def test_only_running_client_visible_experiments(
    client: Client, experiments: dict[str, Experiment]
) -> None:
    _pause(experiments["paused"])  # this visitor never entered it
    assert set(_json_tag(client)) == {"cta"}
    assert set(_api(client)) == {"cta"}


def test_a_paused_experiment_stays_visible_to_contexts_that_entered_it(
    experiments: dict[str, Experiment], user: Any
) -> None:
    entered, newcomer = Client(), Client()
    entered.force_login(user)  # a user's assignment is stored at once (no write-behind)
    before = _api(entered)
    assert set(before) == {"cta", "paused"}
    _pause(experiments["paused"])
    shown = _json_tag(entered)
    assert set(shown) == {"cta", "paused"}
    assert shown["paused"]["variant"] == before["paused"]["variant"]
    assert _api(entered)["paused"]["variant"] == before["paused"]["variant"]
    assert set(_json_tag(newcomer)) == {"cta"}
    assert set(_api(newcomer)) == {"cta"}


def test_a_store_that_fails_hides_paused_experiments(
    experiments: dict[str, Experiment], dead_redis: None
) -> None:
    _pause(experiments["paused"])
    client = Client()
    assert set(_json_tag(client)) == {"cta"}
    assert set(_api(client)) == {"cta"}


@pytest.fixture
def user(db: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("ada", password="pw")


def test_stubbed_experiments_are_judged_by_their_stub(
    experiments: dict[str, Experiment], stub_experiments: Any
) -> None:
    # A test stubbing the client-visible draft as running sees it published, as a page would.
    stub_experiments(draft="candidate")
    shown = _json_tag(Client())
    assert set(shown) == {"cta", "draft", "paused"}  # "paused" is running in this test
    assert shown["draft"]["variant"] == "candidate"
