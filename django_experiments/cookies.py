"""The anonymous actor's signed cookie: read it, write it, delete it.

The cookie holds a random id (uuid4 hex), never anything about the user, and one flag: ``.h``
after the id once a variant of this visitor's was chosen by hand (an explicit or forced
variant). The flag tells the engine that the visitor's stored variants may differ from the
slot tables, so it reads them instead of predicting them (engine/assignments.py). It is signed
with a salt of its own, so a value copied from another signed cookie of the site does not
validate, and a tampered or garbage value is simply treated as absent (then replaced when
needed).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from django.core import signing
from django.http import HttpRequest, HttpResponseBase

from django_experiments.conf import settings

SALT = "django_experiments.anonymous_actor"

_VALUE = re.compile(r"([0-9a-f]{32})(\.h)?")
HAND_PICKED_FLAG = ".h"


class Cookie(NamedTuple):
    """What the request's cookie says."""

    #: The visitor's id; None when there is no usable cookie.
    anonymous_id: str | None
    #: A cookie was sent but its value is tampered, expired or garbage.
    invalid: bool
    #: A variant of this visitor's was chosen by hand (see the module's docstring).
    hand_picked: bool = False


def read(request: HttpRequest) -> Cookie:
    """The request's cookie.

    The signature's timestamp is checked against ``COOKIE_MAX_AGE``, so a cookie replayed past
    its lifetime is as good as absent.
    """
    name = settings.cookie_name
    raw = request.COOKIES.get(name)
    if raw is None:
        return Cookie(None, False)
    try:
        value = _signer(name).unsign(raw, max_age=settings.COOKIE_MAX_AGE)
    except Exception:  # a bad signature, an expired or garbage value: all as good as absent
        value = None
    match = _VALUE.fullmatch(value) if value is not None else None
    if match is None:
        return Cookie(None, True)
    return Cookie(match[1], False, match[2] is not None)


def _signer(name: str) -> signing.TimestampSigner:
    """The signer ``HttpRequest.get_signed_cookie`` would use, built once per configuration.

    Django builds it (importing SIGNING_BACKEND, deriving the key) on every call; a new visitor
    costs a write and a returning one a read, so that was a noticeable share of the request.
    Same salt and backend, so cookies stay readable by ``get_signed_cookie`` and vice versa.
    """
    cache_key = (settings.generation, name)
    signer = _signers.get(cache_key)
    if signer is None:
        _signers.clear()
        signer = _signers[cache_key] = signing.get_cookie_signer(salt=name + SALT)
    return signer


_signers: dict[tuple[int, str], Any] = {}


def write(response: HttpResponseBase, anonymous_id: str, hand_picked: bool = False) -> None:
    name = settings.cookie_name
    value = anonymous_id + HAND_PICKED_FLAG if hand_picked else anonymous_id
    response.set_cookie(
        name,
        _signer(name).sign(value),
        max_age=settings.COOKIE_MAX_AGE,
        domain=settings.COOKIE_DOMAIN,
        secure=settings.COOKIE_SECURE,
        httponly=settings.COOKIE_HTTPONLY,
        samesite=settings.COOKIE_SAMESITE,
    )


def delete(response: HttpResponseBase) -> None:
    # Same domain and samesite as when written, or browsers keep the original cookie.
    response.delete_cookie(
        settings.cookie_name,
        domain=settings.COOKIE_DOMAIN,
        samesite=settings.COOKIE_SAMESITE,
    )
