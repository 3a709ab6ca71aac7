"""The anonymous actor cookie: reading, its age, and what is as good as absent."""

from __future__ import annotations

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
