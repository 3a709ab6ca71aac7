"""Fuzzing every browser-facing endpoint and the admin's weight forms: 0 × 5xx.

Hypothesis with a fixed seed (``derandomize=True``: the same examples on every run, so CI is
reproducible) drives the real URLs through the real middleware stack. Throttles are raised
out of the way so that inputs reach validation rather than a 429. Each test prints how many
requests it sent and how many answered 5xx (``pytest -s``); the assertions are per request.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_experiments import experiment
from django_experiments.models import Experiment
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NAMES = ["cta", "hidden", "draft", "nope", "", "cta ", "CTA", "a" * 101]
WEIRD_NUMBERS = [
    "sNaN",
    "-sNaN",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e999999",
    "1e-999999",
    "-0",
    "0",
    "",
    " ",
    "abc",
    "1,5",
    "1_000",
    "0x10",
    "١٢",
    "9" * 5000,
    "1e999999999999999999",
    "+1",
    "00001",
    "1.00000001",
    "99999999.9999",
    "100000000",
    "-1",
    "1e3",
    "\x00",
    "1 2",
]

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: json.dumps writes them as NaN / Infinity
    | st.text(max_size=20)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
event_object = st.fixed_dictionaries(
    {},
    optional={
        "experiment": st.sampled_from(NAMES) | json_value,
        "event": st.sampled_from(["clicked", "", " ", "x" * 101]) | json_value,
        "variant": st.sampled_from(["control", "candidate", "zzz"]) | json_value,
        "value": st.sampled_from([1, 2**53 + 1, -0.0]) | json_value,
        "properties": json_value,
        "extra": json_value,
    },
)

#: Events that pass validation unless one field is off: they reach the assignment check, the
#: per-context limit and the sinks, not just the parser.
plausible_event = st.fixed_dictionaries(
    {"experiment": st.sampled_from(["cta", "cta", "hidden", "draft"]), "event": st.just("clicked")},
    optional={
        "variant": st.sampled_from(["control", "candidate"]),
        "value": st.integers(-(2**60), 2**60) | st.floats(),
        "properties": st.dictionaries(st.text(max_size=8), json_value, max_size=4),
    },
)


def _nested(depth: int, kind: str) -> bytes:
    opener, closer = {"list": (b"[", b"]"), "dict": (b'{"a":', b"}")}[kind]
    return opener * depth + b"1" + closer * depth


events_body = st.one_of(
    st.binary(max_size=300),
    json_value.map(lambda v: json.dumps(v).encode()),
    event_object.map(lambda v: json.dumps(v).encode()),
    st.lists(event_object, max_size=25).map(lambda v: json.dumps({"events": v}).encode()),
    plausible_event.map(lambda v: json.dumps(v).encode()),
    st.lists(plausible_event, min_size=1, max_size=3).map(
        lambda v: json.dumps({"events": v}).encode()
    ),
    st.builds(_nested, st.integers(1, 5000), st.sampled_from(["list", "dict"])),
    st.builds(lambda n: b"[" * n, st.integers(1, 70_000)),
)
content_length = st.none() | st.sampled_from(["abc", "-1", "", "99999999999", "0", " 5"])


class Tally:
    """Requests and 5xx answers of one fuzz test."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.codes: Counter[int] = Counter()

    def record(self, response: Any) -> None:
        self.codes[response.status_code] += 1
        assert response.status_code < 500, response.content[:500]

    @property
    def total(self) -> int:
        return sum(self.codes.values())

    def report(self) -> None:
        errors = sum(n for code, n in self.codes.items() if code >= 500)
        print(f"\nfuzz {self.name}: {self.total} requests, {errors} x 5xx, {dict(self.codes)}")


@pytest.fixture
def site(make_experiment: Any, settings: Any, django_user_model: Any) -> Iterator[Client]:
    """Experiments of every kind, limits out of the way, and a visitor with an assignment."""
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "API_THROTTLE_RATE": "1000000/min",
        "TRACKING_CLIENT_THROTTLE_RATE": "1000000/min",
        "TRACKING_CLIENT_CONTEXT_RATE": "1000000/min",
        "TRACKING_DEDUPE_SECONDS": 0,
        "TRUSTED_PROXIES": ["127.0.0.1", "10.0.0.0/8"],
    }
    for name, status, visible in (
        ("cta", "running", True),
        ("hidden", "running", False),
        ("draft", "draft", True),
    ):
        exp = make_experiment(name, status=status)
        Experiment.objects.filter(pk=exp.pk).update(client_visible=visible)
    user = django_user_model.objects.create_user("fuzz", password="pw")
    experiment("cta", actor=user).assigned  # noqa: B018 - stored: events reach validation
    client = Client()
    client.force_login(user)
    yield client


def test_events_endpoint(site: Client) -> None:
    tally = Tally("events")

    @settings(FUZZ, max_examples=300)
    @given(body=events_body, length=content_length, anonymous=st.booleans())
    def run(body: bytes, length: str | None, anonymous: bool) -> None:
        client = Client() if anonymous else site
        extra = {} if length is None else {"CONTENT_LENGTH": length}
        response = client.post(
            "/experiments/events/", data=body, content_type="application/json", **extra
        )
        tally.record(response)

    run()
    tally.report()
    assert tally.total >= 300


query_text = st.text(
    alphabet=st.characters(max_codepoint=0x2FF, blacklist_categories=("Cs",)), max_size=200
)


def test_assignments_endpoint(site: Client) -> None:
    tally = Tally("assignments")
    names = st.lists(st.sampled_from(NAMES) | st.text(max_size=12), max_size=25)

    @settings(FUZZ, max_examples=500)
    @given(
        query=st.one_of(names.map(lambda n: "experiments=" + quote(",".join(n))), query_text),
        remote=st.sampled_from(["127.0.0.1", "10.1.2.3", "203.0.113.5", "", "::1", "junk"]),
        forwarded=st.none() | st.text(max_size=60),
        method=st.sampled_from(["get", "get", "get", "post", "head"]),
    )
    def run(query: str, remote: str, forwarded: str | None, method: str) -> None:
        extra = {"QUERY_STRING": query.encode("utf-8").decode("latin-1"), "REMOTE_ADDR": remote}
        if forwarded is not None:
            extra["HTTP_X_FORWARDED_FOR"] = forwarded
        response = getattr(Client(), method)("/experiments/assignments/", **extra)
        tally.record(response)

    run()
    tally.report()
    assert tally.total >= 500


def test_redirect_endpoint(site: Client) -> None:
    tally = Tally("redirect")
    hex_key = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
    odd_key = st.text(alphabet="0123456789abcdefABC-", min_size=28, max_size=36)
    ident = st.one_of(
        # Distinct strategies, one third each (Hypothesis merges repeats of one strategy).
        st.builds("{}:{}".format, st.sampled_from(["cta", "hidden", "draft"]), hex_key),
        st.builds("{}:{}".format, st.sampled_from(NAMES), odd_key),
        st.text(min_size=1, max_size=60),
    )
    target = st.one_of(
        st.sampled_from(
            [
                "/landing/",
                "https://evil.example/",
                "//evil.example",
                "javascript:alert(1)",
                "http://testserver/ok",
                "%2F%2Fevil.example",
                "/\\evil.example",
                "?glex_force=cta:candidate",
            ]
        ),
        st.builds(lambda path: "/" + quote(path), st.text(max_size=30)),
        query_text,
    )

    @settings(FUZZ, max_examples=500)
    @given(ident=ident, target=target, method=st.sampled_from(["get", "get", "head", "post"]))
    def run(ident: str, target: str, method: str) -> None:
        path = "/experiments/r/" + quote(ident, safe=":")
        extra = {"QUERY_STRING": target.encode("utf-8").decode("latin-1")}
        response = getattr(Client(), method)(path, **extra)
        tally.record(response)
        if response.status_code in (301, 302, 303):
            location = response["Location"]  # never an open redirect
            assert url_has_allowed_host_and_scheme(location, {"testserver"}), location

    run()
    tally.report()
    assert tally.total >= 500


weight = st.sampled_from(WEIRD_NUMBERS) | st.text(max_size=30) | st.decimals().map(str)


def test_admin_weight_forms(admin_client: Client, make_experiment: Any) -> None:
    """Through HTTP (each error page renders the whole admin form: few examples); the
    admin's formset itself is fuzzed far more in tests/test_weight_field.py."""
    tally = Tally("admin weight forms")
    exp = make_experiment("cta", status="draft")
    add_url = reverse("admin:django_experiments_experiment_add")
    change_url = reverse("admin:django_experiments_experiment_change", args=[exp.pk])
    counter = iter(range(10**6))

    @settings(FUZZ, max_examples=40)
    @given(
        first=weight,
        second=weight,
        status=st.sampled_from(["draft", "running"]),
        add=st.booleans(),
    )
    def run(first: str, second: str, status: str, add: bool) -> None:
        rows = [
            {"name": "control", "weight": first, "is_control": True},
            {"name": "candidate", "weight": second},
        ]
        if add:
            data = form_data(None, rows, name=f"fuzz-{next(counter)}", status=status)
            response = admin_client.post(add_url, data)
        else:
            current = Experiment.objects.get(pk=exp.pk)
            response = admin_client.post(change_url, form_data(current, rows, status=status))
        tally.record(response)
        assert response.status_code in (200, 302)

    run()
    tally.report()
    assert tally.total >= 40
