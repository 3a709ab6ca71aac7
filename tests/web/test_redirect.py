"""Redirect tracking: ``/experiments/r/<experiment>:<key>?<url>``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_experiments.engine.context import key_for
from django_experiments.engine.scope import activate
from django_experiments.views import redirect_path
from tests.web.conftest import anon, cookie_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def capture(shipped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events each request hands to the tracking pipeline (conftest's ``shipped``)."""
    return shipped


@pytest.fixture
def assigned_key(client: Any, cta: Any) -> tuple[str, str]:
    """A real visitor's context key and variant."""
    data = client.get("/web/page/").json()
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    return key_for("cta", {"actor": anon(anonymous_id)}), data["variant"]


def test_tracks_visited_and_redirects_303(
    client: Any, assigned_key: tuple[str, str], capture: list[dict[str, Any]]
) -> None:
    key, variant = assigned_key
    response = client.get(f"/experiments/r/cta:{key}?/pricing/?plan=pro")
    assert response.status_code == 303
    assert response["Location"] == "/pricing/?plan=pro"
    visits = [e for e in capture if e["event"] == "visited"]
    assert len(visits) == 1
    assert visits[0]["key"] == key
    assert visits[0]["variant"] == variant
    assert visits[0]["properties"] == {"url": "/pricing/?plan=pro"}


def test_same_host_absolute_and_encoded_urls(client: Any, assigned_key: tuple[str, str]) -> None:
    key, _ = assigned_key
    response = client.get(f"/experiments/r/cta:{key}?http://testserver/docs")
    assert response.status_code == 303
    response = client.get(f"/experiments/r/cta:{key}?http%3A%2F%2Ftestserver%2Fdocs%3Fa%3D1")
    assert response["Location"] == "http://testserver/docs?a=1"


def test_redirect_path_helper(client: Any, cta: Any) -> None:
    from django_experiments import experiment

    with activate():
        exp = experiment("cta", actor="someone")
        path = redirect_path(exp, "https://testserver/a?b=c")
    assert path.startswith(f"/experiments/r/cta:{exp.context.key}?")
    response = client.get(path)
    assert response.status_code == 303
    assert response["Location"] == "https://testserver/a?b=c"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/",
        "//evil.example/",
        "javascript:alert(1)",
        "https://testserver.evil.example/",
        "http:\\\\evil.example",
        "",
    ],
)
def test_no_open_redirect(client: Any, assigned_key: tuple[str, str], url: str) -> None:
    key, _ = assigned_key
    response = client.get(f"/experiments/r/cta:{key}?{url}")
    assert response.status_code == 400


def test_allowed_hosts_setting(client: Any, assigned_key: tuple[str, str], settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "REDIRECT_ALLOWED_HOSTS": ["docs.example.com"],
    }
    key, _ = assigned_key
    assert client.get(f"/experiments/r/cta:{key}?https://docs.example.com/x").status_code == 303
    assert client.get(f"/experiments/r/cta:{key}?https://other.example.com/x").status_code == 400


def allow_example_only(url: str, request: Any) -> bool:
    return url.startswith("https://example.org/")


def broken_validator(url: str, request: Any) -> bool:
    raise RuntimeError("boom")


def test_custom_validator(client: Any, assigned_key: tuple[str, str], settings: Any) -> None:
    key, _ = assigned_key
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "REDIRECT_URL_VALIDATOR": "tests.web.test_redirect.allow_example_only",
    }
    assert client.get(f"/experiments/r/cta:{key}?https://example.org/a").status_code == 303
    assert client.get(f"/experiments/r/cta:{key}?/local/").status_code == 400
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "REDIRECT_URL_VALIDATOR": "tests.web.test_redirect.broken_validator",
    }
    assert client.get(f"/experiments/r/cta:{key}?/local/").status_code == 400


@pytest.mark.parametrize(
    "experiment_id",
    [
        "cta",
        "cta:",
        ":0123456789abcdef0123456789abcdef",
        "cta:nothex",
        "cta:0123456789ABCDEF0123456789ABCDEF",
        "unknown:0123456789abcdef0123456789abcdef",
        "a:b:c",
    ],
)
def test_bad_ids_are_404(client: Any, cta: Any, experiment_id: str) -> None:
    assert client.get(f"/experiments/r/{experiment_id}?/x/").status_code == 404


def test_unassigned_key_redirects_without_tracking_or_writing(
    client: Any, cta: Any, capture: list[dict[str, Any]], store: str
) -> None:
    from django_experiments.engine.definitions import get_definition
    from django_experiments.engine.stores import get_store

    key = "0123456789abcdef0123456789abcdef"
    response = client.get(f"/experiments/r/cta:{key}?/x/")
    assert response.status_code == 303
    assert capture == []
    definition = get_definition("cta")
    assert definition is not None
    assert get_store().get(definition.store_name, key) is None


def test_dnt_redirects_without_tracking(
    client: Any, assigned_key: tuple[str, str], capture: list[dict[str, Any]]
) -> None:
    key, _ = assigned_key
    response = client.get(f"/experiments/r/cta:{key}?/x/", HTTP_DNT="1")
    assert response.status_code == 303
    assert capture == []


def test_concluded_experiment_links_keep_working(
    client: Any, assigned_key: tuple[str, str]
) -> None:
    from django_experiments.models import Experiment

    Experiment.objects.filter(name="cta").update(status="concluded")
    from django_experiments.engine.definitions import invalidate

    invalidate()
    key, _ = assigned_key
    assert client.get(f"/experiments/r/cta:{key}?/x/").status_code == 303


def test_post_is_not_allowed(client: Any, assigned_key: tuple[str, str]) -> None:
    key, _ = assigned_key
    assert client.post(f"/experiments/r/cta:{key}?/x/").status_code == 405


@given(path=st.text(max_size=200), query=st.text(max_size=500))
@hsettings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fuzzed_redirects_never_500(client: Any, cta: Any, path: str, query: str) -> None:
    from urllib.parse import quote

    response = client.get(f"/experiments/r/{quote(path, safe=':')}?{quote(query, safe=':/?=&')}")
    assert response.status_code in (303, 400, 404)


def test_glex_force_inside_a_redirect_url_writes_nothing(
    client: Any, cta: Any, capture: list[dict[str, Any]], store: str, settings: Any
) -> None:
    from django_experiments.engine.definitions import get_definition
    from django_experiments.engine.stores import get_store

    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "ALLOW_FORCED_ASSIGNMENT": True}
    definition = get_definition("cta")
    assert definition is not None
    made_up = "ab" * 16
    response = client.get(f"/experiments/r/cta:{made_up}?/landing&glex_force=cta:candidate")
    assert response.status_code == 303
    assert get_store().get(definition.store_name, made_up) is None
    assert capture == []
    # Nor does it overwrite a real visitor's stored variant.
    real = "cd" * 16
    get_store().set(definition.store_name, real, "control")
    client.get(f"/experiments/r/cta:{real}?/landing&glex_force=cta:candidate")
    assert get_store().get(definition.store_name, real) == "control"
    assert [e["variant"] for e in capture if e["event"] == "visited"] == ["control"]
