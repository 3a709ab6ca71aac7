"""The client address the rate limits count by: the socket's, unless a trusted proxy says.

``X-Forwarded-For`` is a list every hop appends to, and anything left of what your own proxies
appended was written by the client. So the header is read only when the socket peer
(``REMOTE_ADDR``) is one of ``TRUSTED_PROXIES``, and then from the right: each hop that is a
trusted proxy is skipped, and the first one that is not is the client. A client that sends its
own header only adds entries to the left of the one your proxy wrote, which are never reached.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from django_experiments.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[Any]) -> tuple[Network, ...]:
    """``["10.0.0.1", "192.168.0.0/16", "::1"]`` as networks; ValueError on a bad entry."""
    networks: list[Network] = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a string")
        networks.append(ipaddress.ip_network(value.strip(), strict=False))
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted(values: tuple[Any, ...]) -> tuple[Network, ...]:
    try:
        return parse_networks(values)
    except ValueError:
        return ()  # E017 reports it at start-up; meanwhile trust nobody


def trusted_networks() -> tuple[Network, ...]:
    configured = settings.TRUSTED_PROXIES
    if not isinstance(configured, (list, tuple)) or not configured:
        return ()
    return _trusted(tuple(configured))


def _address(value: str) -> Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # "::ffff:1.2.3.4" is 1.2.3.4
    return mapped if mapped is not None else address


def _is_trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(meta: Mapping[str, Any]) -> str:
    """The address to count a request by (``request.META``).

    With no trusted proxies (the default), ``REMOTE_ADDR``. Behind trusted ones, the right-most
    ``X-Forwarded-For`` hop that is not a trusted proxy; a malformed hop there ends the walk at
    the last trusted address, which is the one this server can vouch for.
    """
    remote = str(meta.get("REMOTE_ADDR") or "")
    networks = trusted_networks()
    peer = _address(remote)
    if not networks or peer is None or not _is_trusted(peer, networks):
        return remote
    current = str(peer)
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR") or "")
    for hop in reversed(forwarded.split(",")):
        address = _address(hop)
        if address is None:
            return current
        current = str(address)
        if not _is_trusted(address, networks):
            return current
    return current  # every hop is a trusted proxy: the left-most one
