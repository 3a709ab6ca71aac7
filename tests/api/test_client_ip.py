"""Client address for the rate limits: the socket's, unless a trusted proxy forwarded it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from django_experiments.api.client_ip import client_ip
from django_experiments.models import Experiment

URL = "/experiments/assignments/"


def _meta(remote: str, forwarded: str | None = None) -> dict[str, str]:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return meta


@pytest.fixture
def proxies(settings: Any) -> Any:
    def use(*networks: str) -> None:
        settings.DJANGO_EXPERIMENTS = {
            **settings.DJANGO_EXPERIMENTS,
            "TRUSTED_PROXIES": list(networks),
        }

    return use


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_ip(_meta("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    assert client_ip(_meta("203.0.113.9", "garbage")) == "203.0.113.9"


def test_an_untrusted_peer_cannot_forward(proxies: Any) -> None:
    proxies("10.0.0.0/8")
    assert client_ip(_meta("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


def test_right_most_untrusted_hop_behind_trusted_proxies(proxies: Any) -> None:
    proxies("10.0.0.1", "172.16.0.0/12")
    # The client's own header ("6.6.6.6") sits left of what our proxies appended.
    meta = _meta("10.0.0.1", "6.6.6.6, 198.51.100.7, 172.16.4.2")
    assert client_ip(meta) == "198.51.100.7"
    assert client_ip(_meta("10.0.0.1", "198.51.100.7")) == "198.51.100.7"


def test_every_hop_trusted_gives_the_left_most(proxies: Any) -> None:
    proxies("10.0.0.0/8")
    assert client_ip(_meta("10.0.0.1", "10.0.0.3, 10.0.0.2")) == "10.0.0.3"
    assert client_ip(_meta("10.0.0.1")) == "10.0.0.1"
    assert client_ip(_meta("10.0.0.1", "")) == "10.0.0.1"


def test_a_malformed_hop_stops_at_the_last_trusted_address(proxies: Any) -> None:
    proxies("10.0.0.0/8")
    assert client_ip(_meta("10.0.0.1", "1.2.3.4, not-an-ip, 10.0.0.2")) == "10.0.0.2"


def test_ports_brackets_and_mapped_addresses(proxies: Any) -> None:
    proxies("10.0.0.1", "2001:db8::/32")
    assert client_ip(_meta("10.0.0.1", "198.51.100.7:51234")) == "198.51.100.7"
    assert client_ip(_meta("2001:db8::1", "[2001:db9::5]:443")) == "2001:db9::5"
    assert client_ip(_meta("::ffff:10.0.0.1", "198.51.100.7")) == "198.51.100.7"


def test_invalid_setting_trusts_nobody(proxies: Any) -> None:
    proxies("10.0.0.1", "not a network")
    assert client_ip(_meta("10.0.0.1", "1.2.3.4")) == "10.0.0.1"


@pytest.fixture
def visible(make_experiment: Any, settings: Any) -> None:
    exp = make_experiment("cta")
    Experiment.objects.filter(pk=exp.pk).update(client_visible=True)
    settings.DJANGO_EXPERIMENTS = {**settings.DJANGO_EXPERIMENTS, "API_THROTTLE_RATE": "3/min"}


def _codes(client: Client, forwarded: list[str], remote: str = "203.0.113.9") -> list[int]:
    return [
        client.get(
            URL, {"experiments": "cta"}, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=value
        ).status_code
        for value in forwarded
    ]


@pytest.mark.django_db
def test_spoofed_headers_do_not_reset_the_throttle(visible: None) -> None:
    spoofed = [f"198.51.100.{i}" for i in range(10)]  # a new "address" per request
    assert _codes(Client(), spoofed) == [200] * 3 + [429] * 7


@pytest.mark.django_db
def test_behind_a_trusted_proxy_clients_are_told_apart(visible: None, proxies: Any) -> None:
    proxies("10.0.0.1")
    client = Client()
    first = _codes(client, ["6.6.6.1, 198.51.100.1"] * 4, remote="10.0.0.1")
    # The same client spoofing the left part of the header is still the same client.
    spoofed = _codes(client, [f"6.6.6.{i}, 198.51.100.1" for i in range(3)], remote="10.0.0.1")
    other = _codes(client, ["198.51.100.2"] * 3, remote="10.0.0.1")
    assert first == [200, 200, 200, 429]
    assert spoofed == [429, 429, 429]
    assert other == [200, 200, 200]
