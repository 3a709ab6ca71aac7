"""The anonymous actor cookie: reading, its age, and what is as good as absent."""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse

from django_experiments import cookies
from django_experiments.conf import settings as exp_settings


def request_with(value: str | None) -> HttpRequest:
    request = HttpRequest()
    if value is not None:
        request.COOKIES = {exp_settings.cookie_name: value}
    return request


def signed(anonymous_id: str) -> str:
    response = HttpResponse()
    cookies.write(response, anonymous_id)
    return str(response.cookies[exp_settings.cookie_name].value)


def test_a_written_cookie_reads_back_and_is_readable_by_django() -> None:
    value = signed("a" * 32)
    assert cookies.read(request_with(value)) == ("a" * 32, False)
    django_reads = request_with(value).get_signed_cookie(
        exp_settings.cookie_name, None, salt=cookies.SALT
    )
    assert django_reads == "a" * 32


def test_age_of_a_fresh_cookie(monkeypatch: Any) -> None:
    value = signed("b" * 32)
    assert 0 <= (cookies.age(request_with(value)) or 0) < 2
    later = time.time() + 3600
    monkeypatch.setattr(cookies.time, "time", lambda: later)
    assert 3598 < (cookies.age(request_with(value)) or 0) < 3602


def test_no_age_without_a_valid_cookie() -> None:
    assert cookies.age(request_with(None)) is None
    assert cookies.age(request_with("garbage")) is None
    tampered = signed("c" * 32).replace("c" * 32, "d" * 32)
    assert cookies.age(request_with(tampered)) is None
