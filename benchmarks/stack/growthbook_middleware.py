"""The GrowthBook Python SDK wired into Django as GrowthBook documents it for web frameworks.

One ``GrowthBook`` instance per request, ``destroy()``-ed at its end. The visitor id comes
from a signed cookie (Django signing, ``get_signed_cookie`` / ``set_signed_cookie``), minted
when absent, as this project's middleware does for anonymous visitors; a logged-in user is
identified by its primary key instead. The experiment definitions are built once per process,
like this project's cached definitions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers
from growthbook import Experiment, GrowthBook

COOKIE = "gb_visitor"
SALT = "bench-growthbook"
MAX_AGE = 60 * 60 * 24 * 365 * 2


def experiments(names: tuple[str, ...]) -> dict[str, Experiment]:
    """The same experiments as the other contenders: two variants, 50/50."""
    return {
        name: Experiment(key=name, variations=["control", "candidate"], weights=[0.5, 0.5])
        for name in names
    }


class GrowthBookMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        minted = None
        user = request.user
        if user.is_authenticated:
            visitor = f"user:{user.pk}"
        else:
            cookie = request.get_signed_cookie(COOKIE, default=None, salt=SALT, max_age=MAX_AGE)
            if cookie is None:
                cookie = minted = uuid.uuid4().hex
            visitor = cookie
        gb = GrowthBook(attributes={"id": visitor})
        setattr(request, "growthbook", gb)  # noqa: B010 - not an HttpRequest attribute
        try:
            response = self.get_response(request)
        finally:
            gb.destroy()
        if minted is not None:
            response.set_signed_cookie(
                COOKIE,
                minted,
                salt=SALT,
                max_age=MAX_AGE,
                secure=False,
                httponly=True,
                samesite="Lax",
            )
        patch_vary_headers(response, ("Cookie",))
        return response
