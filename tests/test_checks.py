"""Every system check ID: triggered by the wrong input, absent with good input."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks as django_checks

from django_experiments import checks
from django_experiments.engine.stores import CacheStore

GOOD: dict[str, Any] = {
    "CONTEXT_KEY_SECRET": "a-separate-secret",
    "NAME_PREFIX": "shop",
    "ALLOW_FORCED_ASSIGNMENT": True,
    "FORCE_STAFF_ONLY": True,
    "FORCE_PARAM": "force",
    "COOKIE_SAMESITE": "Strict",
    "COOKIE_MAX_AGE": 3600,
    "STORE": "redis",
    "STORE_ALIAS": "redis",
    "DEFAULT_ROLLOUT": "round_robin",
    "DEFINITIONS_TTL": 2.5,
    "NESTING": "warn",
    "TRACKING_SINKS": ["django_experiments.tracking.sinks.LoggingSink"],
    "TRACKING_HTTP_HEADERS": {"Authorization": "Bearer x"},
}


def _ids(settings: Any, value: Any) -> list[str]:
    settings.DJANGO_EXPERIMENTS = value
    return [m.id or "" for m in checks.check_settings()]


def test_good_settings_give_no_messages(settings: Any) -> None:
    assert _ids(settings, {}) == []
    assert _ids(settings, GOOD) == []
    assert _ids(settings, {"DEFAULT_ROLLOUT": "tests.engine.test_rollout.AlwaysLast"}) == []
    assert _ids(settings, {"STORE": "django_experiments.engine.stores.NullStore"}) == []
    assert checks.check_middleware() == []


def test_missing_setting_is_fine(settings: Any) -> None:
    del settings.DJANGO_EXPERIMENTS
    assert checks.check_settings() == []


def test_e001_not_a_dict(settings: Any) -> None:
    assert _ids(settings, ["STORE", "redis"]) == ["django_experiments.E001"]
    assert _ids(settings, None) == ["django_experiments.E001"]


def test_e002_unknown_key(settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {"STORES": "redis"}
    [message] = checks.check_settings()
    assert message.id == "django_experiments.E002"
    assert "'STORES'" in message.msg
    assert isinstance(message, django_checks.Error)


@pytest.mark.parametrize(
    "bad",
    [
        {"COOKIE_SECURE": "yes"},
        {"COOKIE_MAX_AGE": True},
        {"COOKIE_MAX_AGE": 1.5},
        {"DEFINITIONS_TTL": "5"},
        {"TRACKING_SINKS": "django_experiments.tracking.sinks.LoggingSink"},
        {"TRACKING_HTTP_HEADERS": [("a", "b")]},
        {"CONTEXT_KEY_SECRET": 12345},
        {"COOKIE_SECURE": None},
    ],
)
def test_e003_wrong_type(settings: Any, bad: dict[str, Any]) -> None:
    assert _ids(settings, bad) == ["django_experiments.E003"]


def test_none_is_accepted_where_the_default_is_none(settings: Any) -> None:
    assert _ids(settings, {"CONTEXT_KEY_SECRET": None, "COOKIE_DOMAIN": None}) == []


def test_e004_context_key_secret_is_the_raw_secret_key(settings: Any) -> None:
    assert _ids(settings, {"CONTEXT_KEY_SECRET": settings.SECRET_KEY}) == [
        "django_experiments.E004"
    ]
    assert _ids(settings, {"CONTEXT_KEY_SECRET": settings.SECRET_KEY.encode()}) == [
        "django_experiments.E004"
    ]
    settings.SECRET_KEY_FALLBACKS = ["an-old-key"]
    assert _ids(settings, {"CONTEXT_KEY_SECRET": "an-old-key"}) == ["django_experiments.E004"]
    assert _ids(settings, {"CONTEXT_KEY_SECRET": "something-else"}) == []


@pytest.mark.parametrize(
    "store", ["no.such.Store", "nodots", "django_experiments.conf.Settings", "os.path"]
)
def test_e005_store(settings: Any, store: str) -> None:
    assert _ids(settings, {"STORE": store}) == ["django_experiments.E005"]


def test_e005_store_class_is_accepted(settings: Any) -> None:
    assert CacheStore.__module__ == "django_experiments.engine.stores"
    assert _ids(settings, {"STORE": "django_experiments.engine.stores.CacheStore"}) == []


def test_e006_store_alias(settings: Any) -> None:
    assert _ids(settings, {"STORE": "cache", "STORE_ALIAS": "missing"}) == [
        "django_experiments.E006"
    ]
    assert _ids(settings, {"STORE": "redis", "STORE_ALIAS": "missing"}) == [
        "django_experiments.E006"
    ]
    # 'redis' needs django-redis; the default alias is locmem in the test settings.
    assert _ids(settings, {"STORE": "redis", "STORE_ALIAS": "default"}) == [
        "django_experiments.E006"
    ]
    assert _ids(settings, {"STORE": "none", "STORE_ALIAS": "missing"}) == []


@pytest.mark.parametrize("rollout", ["no.such.Rollout", "builtins.int", int, "percentage"])
def test_e007_default_rollout(settings: Any, rollout: Any) -> None:
    assert _ids(settings, {"DEFAULT_ROLLOUT": rollout}) == ["django_experiments.E007"]


def test_e007_accepts_builtin_names_paths_and_classes(settings: Any) -> None:
    from django_experiments import Random

    for good in (
        "percent",
        "random",
        "round_robin",
        Random,
        "tests.engine.test_rollout.NINETY_TEN",
    ):
        assert _ids(settings, {"DEFAULT_ROLLOUT": good}) == []


def test_e008_nesting(settings: Any) -> None:
    assert _ids(settings, {"NESTING": "explode"}) == ["django_experiments.E008"]
    for good in ("raise", "warn", "allow"):
        assert _ids(settings, {"NESTING": good}) == []


def test_e009_samesite(settings: Any) -> None:
    assert _ids(settings, {"COOKIE_SAMESITE": "lax"}) == ["django_experiments.E009"]
    assert _ids(settings, {"COOKIE_SAMESITE": "None"}) == []


def test_e010_tracking_sinks(settings: Any) -> None:
    assert _ids(settings, {"TRACKING_SINKS": ["no.such.Sink"]}) == ["django_experiments.E010"]
    assert _ids(
        settings,
        {"TRACKING_SINKS": ["django_experiments.tracking.sinks.LoggingSink", "nodots"]},
    ) == ["django_experiments.E010"]


@pytest.mark.parametrize(
    "bad",
    [
        {"DEFINITIONS_TTL": -1},
        {"DEFINITIONS_TTL": float("nan")},
        {"DEFINITIONS_TTL": float("inf")},
        {"COOKIE_MAX_AGE": -5},
        {"TRACKING_MAX_ATTEMPTS": -1},
        {"TRACKING_BATCH_SIZE": -1},
        {"TRACKING_RETRY_BACKOFF": -0.5},
        {"TRACKING_HTTP_TIMEOUT": -1},
        {"EVENT_MAX_PROPERTIES_BYTES": -1},
    ],
)
def test_e011_negative_numbers(settings: Any, bad: dict[str, Any]) -> None:
    assert _ids(settings, bad) == ["django_experiments.E011"]


def test_e011_zero_is_fine(settings: Any) -> None:
    assert _ids(settings, {"DEFINITIONS_TTL": 0, "COOKIE_MAX_AGE": 0}) == []


def test_e012_empty_force_param(settings: Any) -> None:
    assert _ids(settings, {"FORCE_PARAM": ""}) == ["django_experiments.E012"]


def test_e031_unknown_handoff(settings: Any) -> None:
    assert _ids(settings, {"TRACKING_HANDOFF": "kafka"}) == ["django_experiments.E031"]
    assert _ids(settings, {"TRACKING_HANDOFF": "broker"}) == []


def test_e032_redis_handoff_needs_a_django_redis_alias(settings: Any) -> None:
    # The default STORE_ALIAS ("default") is a locmem cache in the test settings.
    assert _ids(settings, {"TRACKING_HANDOFF": "redis"}) == ["django_experiments.E032"]
    missing = {"TRACKING_HANDOFF": "redis", "TRACKING_REDIS_ALIAS": "nope"}
    assert _ids(settings, missing) == ["django_experiments.E032"]
    good = {"TRACKING_HANDOFF": "redis", "TRACKING_REDIS_ALIAS": "redis"}
    assert _ids(settings, good) == []
    on_store = {"TRACKING_HANDOFF": "redis", "STORE": "redis", "STORE_ALIAS": "redis"}
    assert _ids(settings, on_store) == []


def test_auto_handoff_is_checked_only_with_the_redis_store(settings: Any) -> None:
    assert _ids(settings, {"TRACKING_HANDOFF": "auto"}) == []
    on_store = {"TRACKING_HANDOFF": "auto", "STORE": "redis", "STORE_ALIAS": "redis"}
    assert _ids(settings, on_store) == []
    # An explicit list alias must be django-redis; a bad store alias is E006's alone.
    bad_list = {**on_store, "TRACKING_REDIS_ALIAS": "default"}
    assert _ids(settings, bad_list) == ["django_experiments.E032"]


def test_w011_the_redis_list_needs_a_scheduled_drain(settings: Any) -> None:
    from tests.celery_apps import make_app, use_app

    on_store = {"STORE": "redis", "STORE_ALIAS": "redis"}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BEAT_SCHEDULE = {}
    with use_app(make_app("memory://", eager=False)):
        assert _ids(settings, on_store) == ["django_experiments.W011"]
        assert _ids(settings, {**on_store, "TRACKING_HANDOFF": "broker"}) == []
        redis_list = {"TRACKING_HANDOFF": "redis", "TRACKING_REDIS_ALIAS": "redis"}
        assert _ids(settings, redis_list) == ["django_experiments.W011"]
        settings.CELERY_BEAT_SCHEDULE = {
            "drain": {"task": "django_experiments.tracking.drain_outbox", "schedule": 2.0}
        }
        assert _ids(settings, on_store) == []
    # Eager Celery delivers inline: the list is not used at all.
    settings.CELERY_BEAT_SCHEDULE = {}
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert _ids(settings, on_store) == []


def test_e011_visibility_timeout_must_not_be_negative(settings: Any) -> None:
    assert _ids(settings, {"TRACKING_REDIS_VISIBILITY": -1}) == ["django_experiments.E011"]


def test_w002_forced_assignment_open_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    settings.DJANGO_EXPERIMENTS = {"ALLOW_FORCED_ASSIGNMENT": True}
    [message] = checks.check_settings()
    assert message.id == "django_experiments.W002"
    assert isinstance(message, django_checks.Warning)
    assert _ids(settings, {"ALLOW_FORCED_ASSIGNMENT": True, "FORCE_STAFF_ONLY": True}) == []
    settings.DEBUG = True
    assert _ids(settings, {"ALLOW_FORCED_ASSIGNMENT": True, "COOKIE_SECURE": False}) == []


def test_w001_middleware_missing(settings: Any) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != checks.MIDDLEWARE]
    [message] = checks.check_middleware()
    assert message.id == "django_experiments.W001"
    assert isinstance(message, django_checks.Warning)


def test_e013_middleware_before_authentication(settings: Any) -> None:
    rest = [m for m in settings.MIDDLEWARE if m not in (checks.MIDDLEWARE, checks.AUTH_MIDDLEWARE)]
    settings.MIDDLEWARE = [checks.MIDDLEWARE, *rest, checks.AUTH_MIDDLEWARE]
    assert [m.id for m in checks.check_middleware()] == ["django_experiments.E013"]
    settings.MIDDLEWARE = [*rest, checks.AUTH_MIDDLEWARE, checks.MIDDLEWARE]
    assert checks.check_middleware() == []


def test_checks_are_registered(settings: Any) -> None:
    settings.DJANGO_EXPERIMENTS = {"NESTING": "explode"}
    found = django_checks.run_checks(tags=["django_experiments"])
    assert "django_experiments.E008" in [m.id for m in found]


def test_w003_locmem_store_with_default_size(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    [message] = checks.check_settings()
    assert message.id == "django_experiments.W003"
    assert isinstance(message, django_checks.Warning)
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 50_000},
        },
    }
    assert checks.check_settings() == []
    assert _ids(settings, {"STORE": "none"}) == []


def test_e014_http_sink_without_url(settings: Any) -> None:
    sink = "django_experiments.tracking.sinks.HttpSink"
    assert _ids(settings, {"TRACKING_SINKS": [sink]}) == ["django_experiments.E014"]
    assert _ids(settings, {"TRACKING_SINKS": [sink], "TRACKING_HTTP_URL": "http://x/"}) == []


def test_e015_callable_sink_needs_an_importable_callable(settings: Any) -> None:
    sink = "django_experiments.tracking.sinks.CallableSink"
    assert _ids(settings, {"TRACKING_SINKS": [sink]}) == ["django_experiments.E015"]
    bad = {"TRACKING_SINKS": [sink], "TRACKING_CALLABLE": "no.such.fn"}
    assert _ids(settings, bad) == ["django_experiments.E015"]
    not_callable = {
        "TRACKING_SINKS": [sink],
        "TRACKING_CALLABLE": "django_experiments.conf.DEFAULTS",
    }
    assert _ids(settings, not_callable) == ["django_experiments.E015"]
    good = {"TRACKING_SINKS": [sink], "TRACKING_CALLABLE": "json.dumps"}
    assert _ids(settings, good) == []


@pytest.mark.parametrize(
    "key",
    [
        "STORE_WRITE_BEHIND",
        "TRACKING_BACKGROUND_PUBLISH",
        "TRACKING_PUBLISH_LINGER",
        "DEFINITIONS_CACHE_ALIAS",
    ],
)
def test_removed_settings_warn_and_are_ignored(settings: Any, key: str) -> None:
    assert _ids(settings, {key: True}) == ["django_experiments.W010"]


def test_e017_trusted_proxies_must_be_addresses_or_networks(settings: Any) -> None:
    good = {"TRUSTED_PROXIES": ["10.0.0.1", "172.16.0.0/12", "2001:db8::/32"]}
    assert _ids(settings, good) == []
    assert _ids(settings, {"TRUSTED_PROXIES": ["10.0.0.1", "proxy.internal"]}) == [
        "django_experiments.E017"
    ]
    assert _ids(settings, {"TRUSTED_PROXIES": [10]}) == ["django_experiments.E017"]
    assert _ids(settings, {"TRUSTED_PROXIES": "10.0.0.1"}) == ["django_experiments.E003"]


@pytest.mark.parametrize(
    "key", ["API_THROTTLE_RATE", "TRACKING_CLIENT_THROTTLE_RATE", "TRACKING_CLIENT_CONTEXT_RATE"]
)
def test_e018_rates_must_parse(settings: Any, key: str) -> None:
    for good in ("120/min", "5/s", "1000/hour", "3/day", "0/m"):
        assert _ids(settings, {key: good}) == [], good
    for bad in ("120", "x/min", "-1/min", "5/week", "5/", "/min", "²/min", "5/ min"):
        assert _ids(settings, {key: bad}) == ["django_experiments.E018"], bad


def test_context_rate_may_be_switched_off(settings: Any) -> None:
    assert _ids(settings, {"TRACKING_CLIENT_CONTEXT_RATE": None}) == []


def test_w005_secure_cookie_with_debug(settings: Any) -> None:
    settings.DEBUG = True
    settings.DJANGO_EXPERIMENTS = {}  # COOKIE_SECURE defaults to True
    [message] = checks.check_settings()
    assert message.id == "django_experiments.W005"
    assert isinstance(message, django_checks.Warning)
    assert "COOKIE_SECURE" in (message.hint or "")
    assert _ids(settings, {"COOKIE_SECURE": True}) == ["django_experiments.W005"]
    assert _ids(settings, {"COOKIE_SECURE": False}) == []
    settings.DEBUG = False
    assert _ids(settings, {}) == []  # production: Secure is right
