"""The anonymous actor's signed cookie: read it, write it, delete it.

The cookie holds a random id (uuid4 hex), never anything about the user. It is signed with a
salt of its own, so a value copied from another signed cookie of the site does not validate,
and a tampered or garbage value is simply treated as absent (then replaced when needed).
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponseBase

from django_experiments.conf import settings

SALT = "django_experiments.anonymous_actor"

_ID = re.compile(r"[0-9a-f]{32}")


def is_valid_id(value: str) -> bool:
    return bool(_ID.fullmatch(value))


def read(request: HttpRequest) -> tuple[str | None, bool]:
    """``(anonymous id, present but invalid)`` from the request's cookie.

    The signature's timestamp is checked against ``COOKIE_MAX_AGE``, so a cookie replayed past
    its lifetime is as good as absent.
    """
    name = settings.cookie_name
    if name not in request.COOKIES:
        return None, False
    try:
        value = request.get_signed_cookie(
            name, default=None, salt=SALT, max_age=settings.COOKIE_MAX_AGE
        )
    except Exception:  # signing errors are caught by default=None; anything else is garbage too
        value = None
    if value is None or not is_valid_id(value):
        return None, True
    return value, False


def write(response: HttpResponseBase, anonymous_id: str) -> None:
    response.set_signed_cookie(
        settings.cookie_name,
        anonymous_id,
        salt=SALT,
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
