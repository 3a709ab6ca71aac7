"""Jinja2 (django_experiments.jinja) through Django's Jinja2 backend and the real middleware.

Each Jinja2 template has a Django-template twin (tests/web/views.py TEMPLATES); for the same
visitor both must render the same thing, since both call the same functions.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from django.template import engines
from jinja2 import Environment

from django_experiments import Experiment, candidate, control, register, unregister
from django_experiments.jinja import ExperimentsExtension, environment
from tests.web.conftest import cookie_id

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.templatetags.jinja_views")]

PARITY = ["plain", "variable", "explicit", "ifvariant", "ifvariant_noelse", "json"]


def _jinja(client: Any, which: str, query: str = "") -> str:
    response = client.get(f"/jinja/{which}/{query}")
    assert response.status_code == 200
    return response.content.decode()


def _django(client: Any, which: str, query: str = "") -> str:
    response = client.get(f"/web/template/{which}/{query}")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("which", PARITY)
def test_same_output_as_the_django_tags(client: Any, cta: Any, which: str) -> None:
    jinja = _jinja(client, which)  # first: the Jinja2 page alone sets the visitor's cookie
    assert cookie_id(client) is not None
    assert jinja == _django(client, which)


def test_a_visitor_gets_both_variants_across_visitors(client_factory: Any, cta: Any) -> None:
    seen = {_jinja(client_factory(), "plain") for _ in range(40)}
    assert seen == {"[control]", "[candidate]"}


def test_unknown_experiment_serves_control(client: Any, cta: Any) -> None:
    assert _jinja(client, "variable", "?name=nope") == "[control]"


def test_get_experiment_binds_the_experiment_with_context(client: Any, cta: Any, user: Any) -> None:
    client.force_login(user)
    jinja = _jinja(client, "as")
    assert jinja == _django(client, "as")
    name = jinja.strip("[]").split("|")[0]
    assert jinja == f"[{name}|{name}]"


def test_ifvariant_with_several_variants_and_explicit_context(client: Any, cta: Any) -> None:
    assert _jinja(client, "several") == "Y"


def _client_visible(experiment: Any) -> None:
    # experiments_json lists only experiments the browser may see.
    experiment.client_visible = True
    experiment.save()


def test_experiments_json_lists_what_the_page_published(client: Any, cta: Any) -> None:
    _client_visible(cta)
    html = _jinja(client, "json")
    match = re.fullmatch(
        r"(control|candidate)<script>window\.experiments = Object\.assign\(window\.experiments "
        r"\|\| \{\}, (.*)\);</script>",
        html,
    )
    assert match, html
    assert json.loads(match.group(2))["cta"]["variant"] == match.group(1)
    assert '<script nonce="a&quot;b">' in _jinja(client, "json", '?nonce=a"b')


def test_track_records_the_event_and_renders_nothing(
    client: Any, cta: Any, experiment_events: Any
) -> None:
    assert _jinja(client, "track") == "tracked"
    clicked = [e for e in experiment_events.events if e["event"] == "clicked"]
    assert len(clicked) == 1
    assert clicked[0]["value"] == 2 and clicked[0]["properties"] == {"button": "hero"}


def test_output_is_autoescaped(client: Any, make_experiment: Any) -> None:
    @register
    class XssExperiment(Experiment):
        name = "xss"

        @control
        def plain(self) -> str:
            return "<b>&</b>"

        @candidate
        def other(self) -> str:
            return "<script>alert(1)</script>"

    try:
        make_experiment("xss", control=1, candidate=1)
        html = _jinja(client, "escape")
        assert html in ("&lt;b&gt;&amp;&lt;/b&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;")
        assert html == _django(client, "escape")
    finally:
        unregister("xss")


def test_errors_fall_back_to_control_in_production(
    client: Any, make_experiment: Any, settings: Any
) -> None:
    @register
    class BrokenExperiment(Experiment):
        name = "xss"

        @control
        def plain(self) -> str:
            raise RuntimeError("boom")

        @candidate
        def other(self) -> str:
            raise RuntimeError("boom")

    try:
        make_experiment("xss", control=1, candidate=1)
        settings.DEBUG = False
        assert _jinja(client, "escape") == "control"
        settings.DEBUG = True
        with pytest.raises(RuntimeError):
            client.get("/jinja/escape/")
    finally:
        unregister("xss")


def test_template_file_through_the_backend(client: Any, cta: Any, experiment_events: Any) -> None:
    _client_visible(cta)
    html = client.get("/jinja/file/").content.decode()
    variant = str(client.get("/web/page/").json()["variant"])
    assert f'<a class="cta">{variant}</a>' in html
    assert ("new copy" if variant == "candidate" else "old copy") in html
    assert '"cta": {' in html
    assert [e["event"] for e in experiment_events.events].count("viewed") >= 1


def test_outside_a_request_serves_control_and_says_why(
    make_experiment: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    make_experiment("cta", control=1, candidate=1000)
    settings.DEBUG = True
    template = engines["jinja2"].from_string(
        '[{{ experiment("cta") }}]{% if ifvariant("cta", "control") %}C{% endif %}'
        "{{ experiments_json() }}"
    )
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        html = template.render({})
    assert html == (
        "[control]C<script>window.experiments = Object.assign(window.experiments || {}, {});"
        "</script>"
    )
    assert "without a request" in caplog.text


def test_explicit_context_works_outside_a_request(make_experiment: Any) -> None:
    make_experiment("cta", control=0, candidate=1)
    template = engines["jinja2"].from_string('{{ experiment("cta", actor="u1") }}')
    assert template.render({}) == "candidate"


def test_ifvariant_needs_a_variant() -> None:
    template = engines["jinja2"].from_string('{{ ifvariant("cta") }}')
    with pytest.raises(TypeError, match="one or more variants"):
        template.render({})


def test_extension_in_an_environment_of_ones_own(make_experiment: Any) -> None:
    make_experiment("cta", control=0, candidate=1)
    env = Environment(extensions=["django_experiments.jinja.ExperimentsExtension"])
    assert env.from_string('{{ experiment("cta", actor="u1") }}').render() == "candidate"
    # The helper does not add the extension twice when it is already named.
    helper = environment(extensions=[ExperimentsExtension])
    assert list(helper.extensions) == ["django_experiments.jinja.ExperimentsExtension"]
