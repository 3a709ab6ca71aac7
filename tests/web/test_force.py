"""``?glex_force=<full name>:<variant>``: settings, permissions, persistence, junk input."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_experiments import force
from tests.web.conftest import anon, cookie_id, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def forcing(settings: Any) -> Any:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "ALLOW_FORCED_ASSIGNMENT": True}
    return settings


def _variant(client: Any, query: str = "", path: str = "/web/page/") -> str:
    response = client.get(f"{path}?{query}" if query else path)
    assert response.status_code == 200
    return str(response.json()["variant"])


def _natural(client: Any) -> tuple[str, str]:
    """The visitor's natural variant and the other one."""
    natural = _variant(client)
    return natural, ("candidate" if natural == "control" else "control")


def test_forcing_is_off_by_default(client: Any, cta: Any) -> None:
    natural, other = _natural(client)
    assert _variant(client, f"glex_force=cta:{other}") == natural


def test_forcing_overwrites_and_persists(client: Any, cta: Any, forcing: Any, store: str) -> None:
    natural, other = _natural(client)
    assert _variant(client, f"glex_force=cta:{other}") == other
    # The parameter is gone, the forced variant stays (it was stored under the cookie key).
    assert _variant(client) == other
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    assert stored("cta", anon(anonymous_id)) == other


def test_forced_variant_survives_login(
    client: Any, cta: Any, user: Any, forcing: Any, store: str
) -> None:
    natural, other = _natural(client)
    _variant(client, f"glex_force=cta:{other}")
    client.post("/web/login/", {"username": "ada", "password": "pw"})
    assert stored("cta", user) == other
    assert _variant(client) == other


def test_draft_experiment_is_not_forced(client: Any, make_experiment: Any, forcing: Any) -> None:
    make_experiment("cta", status="draft", control=1, candidate=1)
    assert _variant(client, "glex_force=cta:candidate") == "control"


def test_unknown_variant_is_ignored(client: Any, cta: Any, forcing: Any) -> None:
    natural, _ = _natural(client)
    assert _variant(client, "glex_force=cta:nope") == natural


def test_explicit_variant_is_never_overridden(client: Any, cta: Any, forcing: Any) -> None:
    response = client.get("/web/explicit-variant/?glex_force=cta:control")
    assert response.json()["variant"] == "candidate"


def test_full_name_with_prefix_is_required(
    client: Any, cta: Any, forcing: Any, settings: Any
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "NAME_PREFIX": "app"}
    natural, other = _natural(client)
    assert _variant(client, f"glex_force=cta:{other}") == natural
    assert _variant(client, f"glex_force=app_cta:{other}") == other


def test_custom_param_name(client: Any, cta: Any, forcing: Any, settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "FORCE_PARAM": "qa"}
    natural, other = _natural(client)
    assert _variant(client, f"glex_force=cta:{other}") == natural
    assert _variant(client, f"qa=cta:{other}") == other


def test_staff_only_mode(
    client: Any, cta: Any, user: Any, forcing: Any, settings: Any, django_user_model: Any
) -> None:
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "FORCE_STAFF_ONLY": True}
    natural, other = _natural(client)
    assert _variant(client, f"glex_force=cta:{other}") == natural  # anonymous

    client.force_login(user)
    natural, other = _natural(client)
    assert _variant(client, f"glex_force=cta:{other}") == natural  # not staff

    staff = django_user_model.objects.create_user("qa", password="pw", is_staff=True)
    client.force_login(staff)
    natural, other = _natural(client)
    assert _variant(client, f"glex_force=cta:{other}") == other


def test_staff_only_mode_async(
    async_client: Any, cta: Any, forcing: Any, settings: Any, django_user_model: Any
) -> None:
    from asgiref.sync import async_to_sync

    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "FORCE_STAFF_ONLY": True}
    staff = django_user_model.objects.create_user("qa", password="pw", is_staff=True)
    async_client.force_login(staff)

    async def get(query: str) -> str:
        response = await async_client.get(f"/web/async/?{query}")
        assert response.status_code == 200
        return str(response.json()["variant"])

    natural = async_to_sync(get)("")
    other = "candidate" if natural == "control" else "control"
    assert async_to_sync(get)(f"glex_force=cta:{other}") == other


def test_several_experiments_in_one_url(client: Any, make_experiment: Any, forcing: Any) -> None:
    make_experiment("one", control=1, b=1)
    make_experiment("two", control=1, b=1)
    query = urlencode([("glex_force", "one:b"), ("glex_force", "two:b")])
    assert _variant(client, query, "/web/page/one/") == "b"
    assert _variant(client, query, "/web/page/two/") == "b"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([":"], {}),
        (["cta"], {}),
        (["cta:"], {}),
        ([":candidate"], {}),
        (["a:b:c"], {"a": "b:c"}),
        (["x" * 10_000], {}),
        (["cta:control", "cta:candidate"], {"cta": "candidate"}),
        ([f"e{i}:v" for i in range(50)], {f"e{i}": "v" for i in range(force.MAX_VALUES)}),
    ],
)
def test_parse(values: list[str], expected: dict[str, str]) -> None:
    assert force.parse(values) == expected


junk = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [":", "a:b:c", "cta:", ":cta", "cta::candidate", "cta:candidate:x", "%", "\x00"]
    ),
    # 10 kB values: a short random unit repeated (hypothesis cannot draw 10 kB directly).
    st.builds(lambda unit: (unit * 10_000)[:10_000], st.text(min_size=1, max_size=20)),
    st.builds(lambda a, b: f"{a}:{b}", st.text(max_size=50), st.text(max_size=50)),
)


@given(values=st.lists(junk, min_size=1, max_size=5))
@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fuzzed_values_never_500(client: Any, cta: Any, forcing: Any, values: list[str]) -> None:
    query = urlencode([("glex_force", v) for v in values])
    response = client.get(f"/web/page/?{query}")
    assert response.status_code == 200
    assert response.json()["variant"] in ("control", "candidate")


@given(raw=st.text(max_size=2000, alphabet=st.characters(codec="latin-1")))
@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fuzzed_raw_query_strings_never_500(client: Any, cta: Any, forcing: Any, raw: str) -> None:
    response = client.generic("GET", "/web/page/", QUERY_STRING=f"glex_force={raw}")
    assert response.status_code in (200, 400)
