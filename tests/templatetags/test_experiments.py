"""``{% load experiments %}``: every form of the tags, in and outside requests."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from django.template import Context, Template, TemplateSyntaxError

from django_experiments import Experiment, candidate, control, register, unregister
from django_experiments.engine.context import key_for
from tests.web.conftest import anon, cookie_id

pytestmark = pytest.mark.django_db


def _html(client: Any, which: str, query: str = "") -> str:
    response = client.get(f"/web/template/{which}/{query}")
    assert response.status_code == 200
    return response.content.decode()


def _natural(client: Any) -> str:
    return str(client.get("/web/page/").json()["variant"])


def test_experiment_renders_the_variant(client: Any, cta: Any) -> None:
    natural = _natural(client)
    assert _html(client, "plain") == f"[{natural}]"


def test_experiment_name_from_a_variable(client: Any, cta: Any) -> None:
    natural = _natural(client)
    assert _html(client, "variable", "?name=cta") == f"[{natural}]"
    # An unknown experiment is control.
    assert _html(client, "variable", "?name=nope") == "[control]"


def test_experiment_with_explicit_variant(client: Any, cta: Any) -> None:
    assert _html(client, "explicit") == "[candidate]"


def test_experiment_as_variable_with_context(client: Any, cta: Any, user: Any) -> None:
    client.force_login(user)
    html = _html(client, "as")
    expected_key = key_for("cta", {"actor": user, "project": "p1"})
    name = html.strip("[]").split("|")[0]
    assert name in ("control", "candidate")
    assert html == f"[{name}|{name}]"  # the payload label is the treatment's name
    from django_experiments import experiment
    from django_experiments.engine.scope import activate

    with activate():
        assert experiment("cta", actor=user, project="p1").context.key == expected_key


def test_ifvariant(client: Any, cta: Any) -> None:
    natural = _natural(client)
    assert _html(client, "ifvariant") == ("YES" if natural == "candidate" else "NO")
    expected = "[C]" if natural == "control" else "[]"
    assert _html(client, "ifvariant_noelse") == expected


def test_ifvariant_with_several_variants_and_context() -> None:
    template = Template(
        '{% load experiments %}{% ifvariant "cta" "control" "candidate" actor="x" %}'
        "any{% endifvariant %}"
    )
    assert template.render(Context({})) == "any"


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
        html = _html(client, "escape")
        assert "<" not in html
        assert html in ("&lt;b&gt;&amp;&lt;/b&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;")
    finally:
        unregister("xss")


def test_experiments_json(client: Any, cta: Any) -> None:
    from django_experiments.engine.definitions import invalidate

    cta.client_visible = True  # only client-visible experiments are published
    cta.save()
    invalidate()
    html = _html(client, "json")
    match = re.fullmatch(
        r"(control|candidate)<script>window\.experiments = Object\.assign\(window\.experiments "
        r"\|\| \{\}, (.*)\);</script>",
        html,
    )
    assert match, html
    data = json.loads(match.group(2))
    anonymous_id = cookie_id(client)
    assert anonymous_id is not None
    assert data == {
        "cta": {
            "experiment": "cta",
            "variant": match.group(1),
            "key": key_for("cta", {"actor": anon(anonymous_id)}),
            "excluded": False,
        }
    }


def test_experiments_json_nonce_and_escaping(client: Any, cta: Any) -> None:
    html = _html(client, "json", '?nonce=abc"def')
    assert '<script nonce="abc&quot;def">' in html


def test_published_json_is_script_safe() -> None:
    from django_experiments.templatetags.experiments import published_json

    text = published_json({"x": {"v": "</script><!-- & \u2028"}})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"x": {"v": "</script><!-- & \u2028"}}


def test_experiments_json_without_a_request() -> None:
    html = Template("{% load experiments %}{% experiments_json %}").render(Context({}))
    assert (
        html == "<script>window.experiments = Object.assign(window.experiments || {}, {});</script>"
    )


def test_outside_a_request_serves_control_and_says_why(
    make_experiment: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    make_experiment("cta", control=1, candidate=1000)
    settings.DEBUG = True
    with caplog.at_level(logging.WARNING, logger="django_experiments"):
        html = Template('{% load experiments %}[{% experiment "cta" %}]').render(Context({}))
        branch = Template(
            '{% load experiments %}{% ifvariant "cta" "control" %}C{% else %}X{% endifvariant %}'
        ).render(Context({}))
    assert html == "[control]"
    assert branch == "C"
    assert "without a request" in caplog.text


def test_outside_a_request_a_concluded_experiment_serves_its_winner(make_experiment: Any) -> None:
    exp = make_experiment("cta", control=1, candidate=1)
    exp.status = "concluded"
    exp.winner = exp.treatments.get(name="candidate")
    exp.save()
    assert Template('{% load experiments %}{% experiment "cta" %}').render(Context({})) == (
        "candidate"
    )


def test_explicit_context_works_outside_a_request(make_experiment: Any) -> None:
    make_experiment("cta", control=0, candidate=1)
    html = Template('{% load experiments %}{% experiment "cta" actor="u1" %}').render(Context({}))
    assert html == "candidate"


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
        assert _html(client, "escape") == "control"
        settings.DEBUG = True
        with pytest.raises(RuntimeError):
            client.get("/web/template/escape/")
    finally:
        unregister("xss")


@pytest.mark.parametrize(
    "source",
    [
        "{% experiment %}",
        '{% experiment "a" "b" "c" %}',
        '{% experiment "a" actor=x "b" %}',
        '{% experiment "a" actor=x actor=y %}',
        '{% ifvariant "a" %}x{% endifvariant %}',
    ],
)
def test_syntax_errors(source: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        Template("{% load experiments %}" + source)


@pytest.mark.django_db
def test_track_tag_is_in_the_experiments_library(make_experiment: Any) -> None:
    from django.template import Context, Template

    from django_experiments.engine.scope import Scope, activate

    make_experiment("cta", control=1, candidate=1)
    with activate(Scope(deferring=True)) as scope:
        out = Template('{% load experiments %}[{% track "cta" "viewed" value=2 actor="a" %}]')
        assert out.render(Context({})) == "[]"
    [event] = [e for e in scope.events if e["event"] == "viewed"]
    assert event["value"] == 2 and event["experiment"] == "cta"
