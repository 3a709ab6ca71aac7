"""Anonymous cookie actor and the login migration, on the cache store and on Redis."""

from __future__ import annotations

from typing import Any

import pytest

from django_experiments.conf import settings as exp_settings
from django_experiments.engine.context import key_for
from django_experiments.engine.definitions import get_definition
from django_experiments.engine.stores import get_store
from tests.web.conftest import anon, cookie_id, stored

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_gets_a_cookie_and_a_stable_variant(
    client: Any, cta: Any, store: str
) -> None:
    first = client.get("/web/page/").json()
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    morsel = client.cookies[exp_settings.cookie_name]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert int(morsel["max-age"]) == exp_settings.COOKIE_MAX_AGE
    assert stored("cta", anon(anonymous_id)) == first["variant"]

    for _ in range(5):
        again = client.get("/web/page/")
        assert again.json()["variant"] == first["variant"]
        assert again.json()["signature"]["key"] == first["signature"]["key"]
        # The cookie is written only when an id was minted, not on every response.
        assert exp_settings.cookie_name not in again.cookies
    assert cookie_id(client) == anonymous_id


def test_cookie_settings_are_applied(client: Any, cta: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "COOKIE_NAME": "ab",
        "COOKIE_SECURE": True,
        "COOKIE_SAMESITE": "Strict",
        "COOKIE_DOMAIN": "testserver",
        "COOKIE_MAX_AGE": 3600,
    }
    response = client.get("/web/page/")
    morsel = response.cookies["ab"]
    assert morsel["secure"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["domain"] == "testserver"
    assert morsel["max-age"] == 3600
    assert "Cookie" in response["Vary"]


def test_no_actor_keyword_sets_no_cookie(client: Any, cta: Any) -> None:
    response = client.get("/web/project-only/")
    assert response.status_code == 200
    assert exp_settings.cookie_name not in response.cookies
    assert cookie_id(client) is None


def test_explicit_none_actor_is_anonymous(client: Any, cta: Any) -> None:
    first = client.get("/web/explicit-anonymous/").json()
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    expected = key_for("cta", {"actor": anon(anonymous_id), "project": "p1"})
    assert first["signature"]["key"] == expected
    assert client.get("/web/explicit-anonymous/").json()["variant"] == first["variant"]


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "",
        "0123456789abcdef0123456789abcdef",  # right shape, unsigned
        "0123456789abcdef0123456789abcdef:forged-signature",
        "\u00e9\u00e9\u00e9:\u00ff",  # WSGI environ strings are latin-1
        "x" * 5000,
    ],
)
def test_tampered_cookie_is_ignored_and_replaced(client: Any, cta: Any, value: str) -> None:
    client.cookies[exp_settings.cookie_name] = value
    response = client.get("/web/page/")
    assert response.status_code == 200
    new_id = cookie_id(client)
    assert new_id is not None
    assert value != client.cookies[exp_settings.cookie_name].value
    assert response.json()["signature"]["key"] == key_for("cta", {"actor": anon(new_id)})


def test_cookie_signed_for_another_purpose_is_rejected(client: Any, cta: Any) -> None:
    from django.http import HttpResponse

    # A valid signature for the same cookie name, but without our salt.
    other = HttpResponse()
    other.set_signed_cookie(exp_settings.cookie_name, "a" * 32)
    client.cookies[exp_settings.cookie_name] = other.cookies[exp_settings.cookie_name].value
    client.get("/web/page/")
    assert cookie_id(client) not in (None, "a" * 32)


def test_invalid_cookie_is_deleted_when_not_needed(client: Any, cta: Any) -> None:
    client.cookies[exp_settings.cookie_name] = "garbage"
    response = client.get("/web/project-only/")
    assert response.cookies[exp_settings.cookie_name].value == ""
    assert response.cookies[exp_settings.cookie_name]["max-age"] == 0


def _login(client: Any, **extra: str) -> Any:
    response = client.post("/web/login/", {"username": "ada", "password": "pw", **extra})
    assert response.status_code == 200, response.content
    return response


def test_login_migrates_the_anonymous_variant(client: Any, cta: Any, user: Any, store: str) -> None:
    anonymous = client.get("/web/page/").json()
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    session_before = client.cookies.get("sessionid")

    response = _login(client)

    # The cookie is deleted, the session key rotated, and neither broke the migration.
    assert response.cookies[exp_settings.cookie_name].value == ""
    assert cookie_id(client) is None
    assert client.cookies["sessionid"].value != getattr(session_before, "value", None)
    assert stored("cta", user) == anonymous["variant"]
    assert stored("cta", anon(anonymous_id)) is None

    logged_in = client.get("/web/page/").json()
    assert logged_in["variant"] == anonymous["variant"]
    assert logged_in["signature"]["key"] == key_for("cta", {"actor": user})
    assert "migration_keys" not in logged_in["signature"]
    assert cookie_id(client) is None


def test_login_request_carries_the_anonymous_key_in_migration_keys(
    client: Any, cta: Any, user: Any, store: str
) -> None:
    anonymous = client.get("/web/page/").json()
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None

    data = _login(client, resolve="1").json()

    assert data["variant"] == anonymous["variant"]
    assert data["signature"]["key"] == key_for("cta", {"actor": user})
    assert data["signature"]["migration_keys"] == [anonymous["signature"]["key"]]
    assert stored("cta", anon(anonymous_id)) is None


def test_user_variant_wins_on_a_second_browser(
    client: Any, client_factory: Any, cta: Any, user: Any, store: str
) -> None:
    first_browser = client
    first_browser.get("/web/page/")
    _login(first_browser)
    user_variant = stored("cta", user)
    assert user_variant is not None
    other = "candidate" if user_variant == "control" else "control"

    second_browser = client_factory()
    second_browser.get("/web/page/")
    second_id = cookie_id(second_browser)
    assert second_id is not None
    definition = get_definition("cta")
    assert definition is not None
    # Whatever the slot table said, this anonymous visitor now holds the other variant.
    get_store().set(definition.store_name, key_for("cta", {"actor": anon(second_id)}), other)
    assert second_browser.get("/web/page/").json()["variant"] == other

    _login(second_browser)

    assert stored("cta", user) == user_variant
    assert stored("cta", anon(second_id)) is None
    assert second_browser.get("/web/page/").json()["variant"] == user_variant


def test_login_migrates_every_running_experiment_but_not_drafts(
    client: Any, make_experiment: Any, user: Any, store: str
) -> None:
    make_experiment("one", control=1, b=1)
    make_experiment("two", control=1, b=1)
    make_experiment("draft", status="draft", control=1, b=1)
    variants = {name: client.get(f"/web/page/{name}/").json()["variant"] for name in ("one", "two")}
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    definition = get_definition("draft")
    assert definition is not None
    draft_key = key_for("draft", {"actor": anon(anonymous_id)})
    get_store().set(definition.store_name, draft_key, "b")

    _login(client)

    for name, variant in variants.items():
        assert stored(name, user) == variant
        assert stored(name, anon(anonymous_id)) is None
    assert stored("draft", user) is None
    assert get_store().get(definition.store_name, draft_key) == "b"


def test_a_known_actor_with_a_leftover_cookie_migrates_lazily(
    client: Any, cta: Any, user: Any, store: str
) -> None:
    """gitlab: a present, non-nil actor migrates the cookie's value forward and deletes it."""
    client.force_login(user)  # no user_logged_in migration for this browser's cookie
    client.get("/web/explicit-anonymous/")  # actor=None: a cookie is minted
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    definition = get_definition("cta")
    assert definition is not None
    get_store().set(
        definition.store_name, key_for("cta", {"actor": anon(anonymous_id)}), "candidate"
    )

    response = client.get("/web/page/")

    assert response.json()["variant"] == "candidate"
    assert response.json()["signature"]["migration_keys"] == [
        key_for("cta", {"actor": anon(anonymous_id)})
    ]
    assert response.cookies[exp_settings.cookie_name].value == ""
    assert stored("cta", user) == "candidate"


def test_login_survives_a_store_outage(client: Any, cta: Any, user: Any, settings: Any) -> None:
    client.get("/web/page/")
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "STORE": "tests.web.broken.BrokenStore",
    }
    response = _login(client)
    assert response.json()["ok"] is True
    assert response.cookies[exp_settings.cookie_name].value == ""


def test_name_prefix_applies_to_the_cookie_name(client: Any, cta: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "NAME_PREFIX": "shop"}
    client.get("/web/page/")
    assert "shop_experiments_actor" in client.cookies
    assert "experiments_actor" not in client.cookies
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    # The prefixed cookie is read back: the visitor keeps one anonymous id.
    client.get("/web/page/")
    assert cookie_id(client) == anonymous_id


def test_experiments_resolved_after_login_in_the_same_request_are_the_users(
    client: Any, cta: Any, user: Any
) -> None:
    # The view resolves "cta" while anonymous, logs in, then resolves "cta" again.
    response = _login(client, resolve_before="1", resolve="1")
    data = response.json()
    assert data["signature"]["key"] == key_for("cta", {"actor": user})
    # No throwaway anonymous id was minted for the second resolution.
    morsel = response.cookies.get(exp_settings.cookie_name)
    assert morsel is None or morsel.value == ""
