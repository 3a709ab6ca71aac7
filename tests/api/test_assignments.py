"""Client API: ``GET /experiments/assignments/?experiments=a,b``."""

from __future__ import annotations

from typing import Any

import pytest

from django_experiments.conf import settings as exp_settings
from django_experiments.engine.context import key_for
from django_experiments.models import Experiment
from tests.web.conftest import anon, cookie_id

pytestmark = pytest.mark.django_db

URL = "/experiments/assignments/"


@pytest.fixture
def visible(make_experiment: Any) -> Any:
    exp = make_experiment("cta", control=1, candidate=1)
    Experiment.objects.filter(pk=exp.pk).update(client_visible=True)
    from django_experiments.engine.definitions import invalidate

    invalidate()
    return exp


def test_returns_the_visitors_assignment_and_sets_the_cookie(
    client: Any, visible: Any, store: str
) -> None:
    response = client.get(URL, {"experiments": "cta"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    data = response.json()["experiments"]["cta"]
    assert data["experiment"] == "cta"
    assert data["key"] == key_for("cta", {"actor": anon(anonymous_id)})
    assert data["payload"] == {"label": data["variant"]}
    assert data["excluded"] is False
    # The page sees the same assignment as the API did.
    assert client.get("/web/page/").json()["variant"] == data["variant"]


def test_page_then_api_agree(client: Any, visible: Any) -> None:
    page = client.get("/web/page/").json()
    api = client.get(URL, {"experiments": "cta"}).json()["experiments"]["cta"]
    assert api["variant"] == page["variant"]
    assert api["key"] == page["signature"]["key"]


def test_logged_in_user(client: Any, visible: Any, user: Any) -> None:
    client.force_login(user)
    response = client.get(URL, {"experiments": "cta"})
    assert response.json()["experiments"]["cta"]["key"] == key_for("cta", {"actor": user})
    assert exp_settings.COOKIE_NAME not in response.cookies


def test_hidden_and_unknown_experiments_are_absent(
    client: Any, visible: Any, make_experiment: Any
) -> None:
    make_experiment("hidden", control=1, b=1)
    response = client.get(URL, {"experiments": "cta,hidden,unknown,cta"})
    assert response.status_code == 200
    assert list(response.json()["experiments"]) == ["cta"]


def test_prefixed_names(client: Any, visible: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "NAME_PREFIX": "app"}
    for query in ("cta", "app_cta"):
        data = client.get(URL, {"experiments": query}).json()["experiments"]
        assert data["cta"]["experiment"] == "app_cta"


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"experiments": ""},
        {"experiments": ",,,"},
        {"experiments": "bad name"},
        {"experiments": "<script>"},
        {"experiments": ",".join(f"e{i}" for i in range(21))},
        {"experiments": "x" * 5000},
        {"experiments": "\u00e9t\u00e9"},
    ],
)
def test_invalid_queries_are_400(client: Any, visible: Any, query: dict[str, str]) -> None:
    response = client.get(URL, query)
    assert response.status_code == 400
    assert "experiments" in response.json()


def test_dnt_assigns_without_tracking(
    client: Any, visible: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_experiments.tracking import producer

    seen: list[Any] = []
    original = producer.ship

    def ship(batch: Any) -> None:
        seen.extend(batch)
        original(batch)

    monkeypatch.setattr(producer, "ship", ship)
    client.get(URL, {"experiments": "cta"}, HTTP_DNT="1")
    assert seen == []
    client.get(URL, {"experiments": "cta"})
    assert [e["event"] for e in seen] == ["assignment"]


def test_throttled(client: Any, visible: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "API_THROTTLE_RATE": "3/min"}
    codes = [client.get(URL, {"experiments": "cta"}).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_invalid_throttle_rate_falls_back_to_the_default(
    client: Any, visible: Any, settings: Any
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "API_THROTTLE_RATE": "lots"}
    assert client.get(URL, {"experiments": "cta"}).status_code == 200


def test_post_is_not_allowed(client: Any, visible: Any) -> None:
    assert client.post(URL, {"experiments": "cta"}).status_code in (403, 405)


def test_works_without_the_middleware(client: Any, visible: Any, settings: Any) -> None:
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "django_experiments.middleware.ExperimentMiddleware"
    ]
    response = client.get(URL, {"experiments": "cta"})
    assert response.status_code == 200
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    data = response.json()["experiments"]["cta"]
    assert data["key"] == key_for("cta", {"actor": anon(anonymous_id)})
    again = client.get(URL, {"experiments": "cta"}).json()["experiments"]["cta"]
    assert again["key"] == data["key"]
