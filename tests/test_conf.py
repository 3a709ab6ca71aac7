"""The settings object reads DJANGO_EXPERIMENTS live, so override_settings just works."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from django_experiments.conf import DEFAULTS, TYPES, settings


def test_defaults() -> None:
    assert settings.STORE == "cache"
    assert settings.DEFINITIONS_TTL == 5.0
    assert settings.COOKIE_SECURE is False  # from tests/settings.py
    assert set(DEFAULTS) == set(TYPES)


def test_follows_override_settings() -> None:
    with override_settings(DJANGO_EXPERIMENTS={"STORE": "none", "DEFINITIONS_TTL": 1}):
        assert settings.STORE == "none"
        assert settings.DEFINITIONS_TTL == 1
        assert settings.COOKIE_SECURE is True  # back to the default: not in this dict
    assert settings.STORE == "cache"


def test_follows_the_settings_fixture(settings: Any) -> None:
    from django_experiments.conf import settings as conf

    settings.DJANGO_EXPERIMENTS = {"NAME_PREFIX": "shop"}
    assert conf.NAME_PREFIX == "shop"
    # Values are cached until ``setting_changed``; the fixture's ``del`` sends no signal, so
    # assigning a new dict is the supported way to change them mid-test.
    settings.DJANGO_EXPERIMENTS = {}
    assert conf.NAME_PREFIX is None


def test_override_settings_reloads_and_restores() -> None:
    from django_experiments.conf import settings as conf

    before = conf.generation
    with override_settings(DJANGO_EXPERIMENTS={"STORE": "none"}):
        assert conf.STORE == "none"
        assert conf.generation > before
    assert conf.STORE == "cache"


def test_non_dict_setting_reads_as_defaults() -> None:
    with override_settings(DJANGO_EXPERIMENTS="garbage"):
        assert settings.STORE == "cache"


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="NOT_A_SETTING"):
        settings.NOT_A_SETTING  # noqa: B018


def test_context_key_secret_is_derived_not_raw() -> None:
    derived = settings.context_key_secret
    assert isinstance(derived, bytes) and len(derived) >= 16
    assert derived != b"tests-only-not-secret"
    assert b"tests-only-not-secret" not in derived
    with override_settings(SECRET_KEY="another-secret-key"):
        assert settings.context_key_secret != derived
    assert settings.context_key_secret == derived


def test_explicit_context_key_secret() -> None:
    with override_settings(DJANGO_EXPERIMENTS={"CONTEXT_KEY_SECRET": "separate"}):
        assert settings.context_key_secret == b"separate"
    with override_settings(DJANGO_EXPERIMENTS={"CONTEXT_KEY_SECRET": b"raw-bytes"}):
        assert settings.context_key_secret == b"raw-bytes"


@pytest.mark.parametrize("bad", [5, 0, "", b"", ["x"]])
def test_unusable_context_key_secret_falls_back_to_the_derived_key(bad: Any) -> None:
    derived = settings.context_key_secret
    with override_settings(DJANGO_EXPERIMENTS={"CONTEXT_KEY_SECRET": bad}):
        # Never bytes(5) (five zero bytes): E003 reports the type, resolution stays safe.
        assert settings.context_key_secret == derived


def test_full_name_applies_the_prefix_once() -> None:
    assert settings.full_name("cta") == "cta"
    with override_settings(DJANGO_EXPERIMENTS={"NAME_PREFIX": "shop"}):
        assert settings.full_name("cta") == "shop_cta"
        assert settings.full_name("shop_cta") == "shop_cta"


@pytest.mark.parametrize(
    ("key", "bad", "expected"),
    [
        ("DEFINITIONS_TTL", "5", 5.0),  # a string: the default, never a str reaching callers
        ("DEFINITIONS_TTL", 2, 2.0),  # an int where a float is declared: converted
        ("COOKIE_SECURE", "yes", True),
        ("TRACKING_SINKS", "not.a.list", ("django_experiments.tracking.sinks.LoggingSink",)),
        ("TRACKING_SINKS", ["a.B"], ("a.B",)),
        ("COOKIE_SAMESITE", "sideways", "Lax"),
        ("TRACKING_BATCH_SIZE", True, 500),  # a bool is not an int here
    ],
)
def test_values_reach_callers_with_their_declared_type(
    settings: Any, key: str, bad: Any, expected: Any
) -> None:
    from django_experiments.conf import settings as conf

    settings.DJANGO_EXPERIMENTS = {key: bad}
    value = getattr(conf, key)
    assert value == expected
    assert type(value) is type(expected)


def test_importing_the_package_does_not_load_the_engine() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys, django_experiments\n"
        "print(sorted(m for m in sys.modules if m.startswith('django_experiments.')))\n"
        "import django\n"
        "django.setup()\n"
        "from django_experiments import experiment\n"
        "print(experiment.__module__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "django_experiments.engine.registry"]


def test_every_setting_has_a_declared_type() -> None:
    from django_experiments.conf import KINDS, Settings

    assert set(KINDS) == set(DEFAULTS)
    assert set(Settings.__annotations__) == set(DEFAULTS)
