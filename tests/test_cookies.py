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
    assert cookies.read(request_with(value)) == ("a" * 32, False, False)
    django_reads = request_with(value).get_signed_cookie(
        exp_settings.cookie_name, None, salt=cookies.SALT
    )
    assert django_reads == "a" * 32


def test_the_hand_picked_flag_is_signed_with_the_id() -> None:
    response = HttpResponse()
    cookies.write(response, "b" * 32, hand_picked=True)
    value = str(response.cookies[exp_settings.cookie_name].value)
    assert cookies.read(request_with(value)) == ("b" * 32, False, True)
    # The flag cannot be added (or removed) by hand: the signature covers it.
    plain = signed("b" * 32)
    forged = plain.replace("b" * 32, "b" * 32 + ".h", 1)
    assert cookies.read(request_with(forged)) == (None, True, False)
