"""System checks for ``DJANGO_EXPERIMENTS`` (IDs ``django_experiments.E0xx`` / ``W0xx``)."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings as django_settings
from django.core import checks
from django.utils.module_loading import import_string

from django_experiments.conf import DEFAULTS, NESTING_CHOICES, REMOVED, SAMESITE_CHOICES, TYPES

ID = "django_experiments.{}"

#: Numeric settings where a negative (or NaN/infinite) value makes no sense.
NON_NEGATIVE = (
    "STORE_BUCKETS",
    "DEFINITIONS_TTL",
    "COOKIE_MAX_AGE",
    "TRACKING_DEDUPE_SECONDS",
    "TRACKING_MAX_ATTEMPTS",
    "TRACKING_RETRY_BACKOFF",
    "TRACKING_BATCH_SIZE",
    "TRACKING_HTTP_TIMEOUT",
    "EVENT_MAX_PROPERTIES_BYTES",
    "EVENT_MAX_BODY_BYTES",
    "TRACKING_REDIS_VISIBILITY",
)
HANDOFF_CHOICES = ("auto", "broker", "redis")
MIDDLEWARE = "django_experiments.middleware.ExperimentMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def _error(code: str, msg: str, hint: str | None = None) -> checks.CheckMessage:
    cls = checks.Error if code.startswith("E") else checks.Warning
    return cls(msg, hint=hint, id=ID.format(code))


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    user = getattr(django_settings, "DJANGO_EXPERIMENTS", {})
    if not isinstance(user, dict):
        return [
            _error(
                "E001",
                f"DJANGO_EXPERIMENTS must be a dict, got {type(user).__name__}.",
                "Set DJANGO_EXPERIMENTS = {...} with the keys documented in the README.",
            )
        ]
    errors: list[checks.CheckMessage] = []
    for key in sorted(set(user) & REMOVED):
        errors.append(
            _error(
                "W010",
                f"DJANGO_EXPERIMENTS[{key!r}] was removed and is ignored.",
                "Delete it: assignments and events are written synchronously before the "
                "response, and definitions are reloaded from the database (CHANGELOG).",
            )
        )
    for key in sorted(set(user) - set(DEFAULTS) - REMOVED):
        errors.append(
            _error(
                "E002",
                f"DJANGO_EXPERIMENTS has an unknown key {key!r}.",
                "Known keys: " + ", ".join(sorted(DEFAULTS)),
            )
        )
    for key, value in user.items():
        if key not in TYPES or (value is None and DEFAULTS[key] is None):
            continue
        allowed = TYPES[key]
        if isinstance(value, bool) and bool not in allowed:
            ok = False
        else:
            ok = isinstance(value, allowed)
        if not ok:
            names = " or ".join(t.__name__ for t in allowed)
            errors.append(
                _error(
                    "E003",
                    f"DJANGO_EXPERIMENTS[{key!r}] must be {names}, got {type(value).__name__}.",
                )
            )
    errors += _check_values(user)
    return errors


def _check_values(user: dict[str, Any]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    secret = user.get("CONTEXT_KEY_SECRET")
    raw_keys = [django_settings.SECRET_KEY, *getattr(django_settings, "SECRET_KEY_FALLBACKS", [])]
    raw_keys += [k.encode() for k in raw_keys if isinstance(k, str)]
    if secret and isinstance(secret, (str, bytes)) and secret in raw_keys:
        errors.append(
            _error(
                "E004",
                "DJANGO_EXPERIMENTS['CONTEXT_KEY_SECRET'] is the raw SECRET_KEY.",
                "Leave it unset (a key is derived from SECRET_KEY) or use a separate secret.",
            )
        )
    store = user.get("STORE", DEFAULTS["STORE"])
    if isinstance(store, str) and store not in ("redis", "cache", "none"):
        problem = _import_problem(store, "django_experiments.engine.stores.Store")
        if problem:
            errors.append(
                _error(
                    "E005",
                    f"DJANGO_EXPERIMENTS['STORE'] {store!r} is not 'redis', 'cache', 'none' "
                    f"or the path of a Store subclass ({problem}).",
                )
            )
    alias = user.get("STORE_ALIAS", DEFAULTS["STORE_ALIAS"])
    caches = getattr(django_settings, "CACHES", {})
    if store in ("redis", "cache") and isinstance(alias, str) and alias not in caches:
        errors.append(
            _error("E006", f"DJANGO_EXPERIMENTS['STORE_ALIAS'] {alias!r} is not in CACHES.")
        )
    elif store == "redis" and isinstance(alias, str) and isinstance(caches.get(alias), dict):
        backend = caches.get(alias, {}).get("BACKEND", "")
        if not backend.startswith("django_redis."):
            errors.append(
                _error(
                    "E006",
                    f"STORE 'redis' needs a django-redis cache, but CACHES[{alias!r}] uses "
                    f"{backend!r}.",
                    "Use 'django_redis.cache.RedisCache' or set STORE to 'cache'.",
                )
            )
    rollout = user.get("DEFAULT_ROLLOUT", DEFAULTS["DEFAULT_ROLLOUT"])
    if (isinstance(rollout, str) and rollout not in ("percent", "random", "round_robin")) or (
        isinstance(rollout, type)
    ):
        problem = _import_problem(
            rollout, "django_experiments.engine.rollout.Rollout", instances_ok=True
        )
        if problem:
            errors.append(
                _error("E007", f"DJANGO_EXPERIMENTS['DEFAULT_ROLLOUT'] {rollout!r}: {problem}.")
            )
    nesting = user.get("NESTING", DEFAULTS["NESTING"])
    if isinstance(nesting, str) and nesting not in NESTING_CHOICES:
        errors.append(
            _error("E008", f"DJANGO_EXPERIMENTS['NESTING'] must be one of {NESTING_CHOICES}.")
        )
    samesite = user.get("COOKIE_SAMESITE", DEFAULTS["COOKIE_SAMESITE"])
    if isinstance(samesite, str) and samesite not in SAMESITE_CHOICES:
        errors.append(
            _error(
                "E009", f"DJANGO_EXPERIMENTS['COOKIE_SAMESITE'] must be one of {SAMESITE_CHOICES}."
            )
        )
    sinks = user.get("TRACKING_SINKS", DEFAULTS["TRACKING_SINKS"])
    if isinstance(sinks, (list, tuple)):
        for sink in sinks:
            if not isinstance(sink, str):
                continue
            try:
                import_string(sink)
            except Exception as exc:  # a module failing at import is as fatal as a bad path
                errors.append(_error("E010", f"Tracking sink {sink!r} cannot be imported: {exc}."))
                continue
            errors += _check_sink_config(user, sink)
    for key in NON_NEGATIVE:
        value = user.get(key)
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and not (math.isfinite(value) and value >= 0)
        ):
            errors.append(
                _error("E011", f"DJANGO_EXPERIMENTS[{key!r}] must be a finite number, 0 or more.")
            )
    errors += _check_handoff(user, caches)
    if user.get("FORCE_PARAM", "x") == "":
        errors.append(_error("E012", "DJANGO_EXPERIMENTS['FORCE_PARAM'] must not be empty."))
    if (
        user.get("ALLOW_FORCED_ASSIGNMENT")
        and not user.get("FORCE_STAFF_ONLY")
        and not django_settings.DEBUG
    ):
        errors.append(
            _error(
                "W002",
                "Forced assignment is open to every visitor with DEBUG off.",
                "Set FORCE_STAFF_ONLY to True in production.",
            )
        )
    errors += _check_locmem_store(user)
    errors += _check_client_limits(user)
    errors += _check_conversion_windows(user)
    return errors


#: Rate settings in DRF's ``"<count>/<s|min|hour|day>"`` form.
RATE_SETTINGS = (
    "API_THROTTLE_RATE",
    "TRACKING_CLIENT_THROTTLE_RATE",
    "TRACKING_CLIENT_CONTEXT_RATE",
)


def _check_client_limits(user: dict[str, Any]) -> list[checks.CheckMessage]:
    """Rates, trusted proxies, and a Secure cookie that plain-HTTP development drops."""
    from django_experiments.api.client_ip import parse_networks

    errors: list[checks.CheckMessage] = []
    for key in RATE_SETTINGS:
        rate = user.get(key)
        if isinstance(rate, str) and not _valid_rate(rate):
            errors.append(
                _error(
                    "E018",
                    f"DJANGO_EXPERIMENTS[{key!r}] {rate!r} is not a rate.",
                    'Write "<count>/<period>" with a period of s, min, hour or day: "120/min".',
                )
            )
    proxies = user.get("TRUSTED_PROXIES")
    if isinstance(proxies, (list, tuple)):
        try:
            parse_networks(proxies)
        except ValueError as exc:
            errors.append(
                _error(
                    "E017",
                    f"DJANGO_EXPERIMENTS['TRUSTED_PROXIES'] has an entry that is not an IP "
                    f"address or network: {exc}.",
                    'List addresses or CIDRs: ["10.0.0.1", "172.16.0.0/12"]. Until fixed, '
                    "no proxy is trusted.",
                )
            )
    if user.get("COOKIE_SECURE", DEFAULTS["COOKIE_SECURE"]) and django_settings.DEBUG:
        errors.append(
            _error(
                "W005",
                "COOKIE_SECURE is on with DEBUG on: over plain HTTP (any host but localhost) "
                "browsers drop the visitor cookie, so every request is a new visitor.",
                "In development settings set DJANGO_EXPERIMENTS['COOKIE_SECURE'] = False, or "
                "serve over HTTPS; keep it True in production.",
            )
        )
    return errors


def _valid_rate(rate: str) -> bool:
    count, slash, period = rate.partition("/")
    return bool(slash) and count.strip().isdecimal() and period[:1] in ("s", "m", "h", "d")


def _check_conversion_windows(user: dict[str, Any]) -> list[checks.CheckMessage]:
    """``{experiment name or "*": hours}`` with positive, finite hours (or None: no window)."""
    windows = user.get("CONVERSION_WINDOWS")
    if not isinstance(windows, dict):
        return []  # E003 reports a wrong type
    bad = [
        name
        for name, hours in windows.items()
        if not isinstance(name, str)
        or not (
            hours is None
            or (
                isinstance(hours, (int, float))
                and not isinstance(hours, bool)
                and math.isfinite(hours)
                and hours > 0
            )
        )
    ]
    if not bad:
        return []
    return [
        _error(
            "E030",
            f"DJANGO_EXPERIMENTS['CONVERSION_WINDOWS'] entries {bad!r} must map an experiment "
            "name (or '*') to a positive number of hours, or None.",
            "After changing a window, run `manage.py rebuild_results <experiment>`.",
        )
    ]


def _check_sink_config(user: dict[str, Any], sink: str) -> list[checks.CheckMessage]:
    """Sinks that need a setting to do anything: fail at start-up, not at the first batch."""
    from django_experiments.tracking.sinks import CallableSink, HttpSink

    cls = import_string(sink)
    if isinstance(cls, type) and issubclass(cls, HttpSink) and not user.get("TRACKING_HTTP_URL"):
        return [
            _error(
                "E014",
                f"Tracking sink {sink!r} needs DJANGO_EXPERIMENTS['TRACKING_HTTP_URL'].",
            )
        ]
    if isinstance(cls, type) and issubclass(cls, CallableSink):
        target = user.get("TRACKING_CALLABLE")
        if not target:
            return [
                _error(
                    "E015",
                    f"Tracking sink {sink!r} needs DJANGO_EXPERIMENTS['TRACKING_CALLABLE'].",
                )
            ]
        try:
            fn = import_string(target) if isinstance(target, str) else target
        except Exception as exc:
            return [_error("E015", f"TRACKING_CALLABLE {target!r} cannot be imported: {exc}.")]
        if not callable(fn):
            return [_error("E015", f"TRACKING_CALLABLE {target!r} is not callable.")]
    return []


def _check_locmem_store(user: dict[str, Any]) -> list[checks.CheckMessage]:
    """The cache store on LocMemCache is per process and forgets past MAX_ENTRIES (300)."""
    if user.get("STORE", DEFAULTS["STORE"]) != "cache":
        return []
    alias = user.get("STORE_ALIAS", DEFAULTS["STORE_ALIAS"])
    config = getattr(django_settings, "CACHES", {}).get(alias, {})
    if not isinstance(config, dict) or not str(config.get("BACKEND", "")).endswith("LocMemCache"):
        return []
    if "MAX_ENTRIES" in (config.get("OPTIONS") or {}):
        return []
    return [
        _error(
            "W003",
            f"Assignments are stored in CACHES[{alias!r}], a LocMemCache holding 300 entries: "
            "past that it evicts, and explicit, forced and segmented assignments are lost.",
            "Use STORE 'redis' (django-redis) or a shared cache; for a single-process demo, "
            "raise OPTIONS['MAX_ENTRIES'].",
        )
    ]


def _import_problem(spec: str | type, base_path: str, instances_ok: bool = False) -> str | None:
    """Why ``spec`` (a dotted path or a class) is not a subclass of ``base_path``, or None.

    ``instances_ok``: a path may also name an instance (a configured rollout strategy).
    """
    try:
        obj = import_string(spec) if isinstance(spec, str) else spec
    except Exception as exc:  # ImportError, or the module itself failing at import
        return str(exc)
    base = import_string(base_path)
    if isinstance(obj, type) and issubclass(obj, base):
        return None
    if instances_ok and isinstance(obj, base):
        return None
    return f"{obj!r} is not a subclass of {base_path}"


def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    middleware = list(getattr(django_settings, "MIDDLEWARE", []) or [])
    if MIDDLEWARE not in middleware:
        return [
            _error(
                "W001",
                f"{MIDDLEWARE} is not in MIDDLEWARE: request.experiment, cookies and "
                "glex_force are unavailable.",
                f"Add it after {AUTH_MIDDLEWARE}.",
            )
        ]
    if AUTH_MIDDLEWARE in middleware and middleware.index(AUTH_MIDDLEWARE) > middleware.index(
        MIDDLEWARE
    ):
        return [
            _error(
                "E013",
                f"{MIDDLEWARE} must come after {AUTH_MIDDLEWARE} (it reads request.user).",
            )
        ]
    return []


#: docs/tracking.md ("Redis as the Celery broker"): the batches of a worker killed mid-task
#: reach the sinks within this many seconds once a worker consumes again.
REDIS_DELIVERY_TARGET = 900.0
REDIS_BROKER_SCHEMES = ("redis", "rediss", "redis+socket", "sentinel")
#: backoff() adds up to 10 % jitter to a retry's countdown.
RETRY_JITTER = 1.1


def check_redis_broker(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """With Redis as the broker, a SIGKILLed worker's batches wait out ``visibility_timeout``.

    ``deliver`` acknowledges late, so kombu keeps a task a worker took in its un-acked set
    and gives it back only when it is ``visibility_timeout`` old, at its next restore sweep;
    kombu's default timeout is one hour. A retry whose countdown outlives the timeout is
    given back while it waits and runs twice.
    """
    options = _redis_broker_options()
    if options is None:
        return []
    from kombu.transport.redis import Channel

    timeout = _number(options.get("visibility_timeout"), Channel.visibility_timeout)
    sweep = _number(
        options.get("unacked_restore_interval"), getattr(Channel, "unacked_restore_interval", 10)
    ) * _number(
        options.get("unacked_restore_throttle"), getattr(Channel, "unacked_restore_throttle", 1)
    )
    recommended = (
        "CELERY_BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 840, "
        "'unacked_restore_interval': 10, 'unacked_restore_throttle': 1} "
        "(docs/tracking.md, 'Redis as the Celery broker')."
    )
    errors: list[checks.CheckMessage] = []
    if timeout + sweep > REDIS_DELIVERY_TARGET:
        errors.append(
            _error(
                "W006",
                f"The Celery broker is Redis with visibility_timeout {timeout:g} s: tracking "
                f"batches of a worker killed mid-task wait up to {timeout + sweep:g} s "
                f"(timeout + restore sweep), beyond the {REDIS_DELIVERY_TARGET:g} s delivery "
                "target.",
                f"Set {recommended}",
            )
        )
    user = getattr(django_settings, "DJANGO_EXPERIMENTS", {})
    user = user if isinstance(user, dict) else {}
    ceiling = _number(
        user.get("TRACKING_RETRY_BACKOFF_MAX"), DEFAULTS["TRACKING_RETRY_BACKOFF_MAX"]
    )
    longest = ceiling * RETRY_JITTER
    if longest >= timeout:
        errors.append(
            _error(
                "W007",
                f"Sink retries wait up to {longest:g} s (TRACKING_RETRY_BACKOFF_MAX "
                f"{ceiling:g} s + 10 % jitter), not less than the Redis broker's "
                f"visibility_timeout {timeout:g} s: Redis gives a waiting retry to another "
                "worker and the sink gets the batch again.",
                f"Keep TRACKING_RETRY_BACKOFF_MAX x 1.1 below visibility_timeout: {recommended}",
            )
        )
    return errors


def _redis_broker_options() -> dict[str, Any] | None:
    """The current Celery app's ``broker_transport_options`` when its broker is Redis."""
    try:
        from celery._state import get_current_app

        conf = get_current_app().conf
        if conf.task_always_eager:
            return None  # no broker: tasks run inline
        url = conf.broker_url or ""
        if isinstance(url, (list, tuple)):
            url = url[0] if url else ""
        scheme = str(url).split("://", 1)[0].lower()
        options = conf.broker_transport_options or {}
    except Exception:  # an unconfigurable app is the host project's start-up error, not ours
        return None
    if scheme not in REDIS_BROKER_SCHEMES or not isinstance(options, dict):
        return None
    return options


def _number(value: Any, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return float(default)


def register() -> None:
    checks.register(check_settings, "django_experiments")
    checks.register(check_middleware, "django_experiments")
    checks.register(check_redis_broker, "django_experiments")


def _check_handoff(user: dict[str, Any], caches: dict[str, Any]) -> list[checks.CheckMessage]:
    """TRACKING_HANDOFF is a known hand-off; "redis" needs a django-redis cache alias."""
    handoff = user.get("TRACKING_HANDOFF", DEFAULTS["TRACKING_HANDOFF"])
    if not isinstance(handoff, str):
        return []  # E003 reports a wrong type
    if handoff not in HANDOFF_CHOICES:
        return [
            _error(
                "E031",
                f"DJANGO_EXPERIMENTS['TRACKING_HANDOFF'] {handoff!r} must be one of "
                f"{HANDOFF_CHOICES}.",
            )
        ]
    store = user.get("STORE", DEFAULTS["STORE"])
    if handoff == "broker" or (handoff == "auto" and store != "redis"):
        return []
    messages = _check_drain_scheduled(handoff)
    if handoff == "auto" and not user.get("TRACKING_REDIS_ALIAS"):
        return messages  # the Redis store's own alias: E006 reports it if it is unusable
    alias = user.get("TRACKING_REDIS_ALIAS") or user.get("STORE_ALIAS", DEFAULTS["STORE_ALIAS"])
    if not isinstance(alias, str):
        return []
    backend = (
        caches.get(alias, {}).get("BACKEND", "") if isinstance(caches.get(alias), dict) else ""
    )
    if not backend.startswith("django_redis."):
        return [
            _error(
                "E032",
                f"TRACKING_HANDOFF 'redis' needs a django-redis cache, but CACHES[{alias!r}] "
                f"is {backend or 'missing'!r}.",
                "Point TRACKING_REDIS_ALIAS (or STORE_ALIAS) at a "
                "'django_redis.cache.RedisCache' alias, or use the 'broker' hand-off.",
            )
        ]
    return messages


DRAIN_TASK = "django_experiments.tracking.drain_outbox"


def _check_drain_scheduled(handoff: str) -> list[checks.CheckMessage]:
    """W011: the Redis list is only moved to the broker by ``drain_outbox``; without a beat
    entry for it (and without eager Celery, which delivers inline) events wait in Redis."""
    try:
        from celery._state import get_current_app

        conf = get_current_app().conf
        eager = bool(conf.task_always_eager)
        schedules = [conf.beat_schedule or {}]
    except Exception:
        eager, schedules = False, []
    eager = eager or bool(getattr(django_settings, "CELERY_TASK_ALWAYS_EAGER", False))
    schedules.append(getattr(django_settings, "CELERY_BEAT_SCHEDULE", None) or {})
    if eager:
        return []
    for schedule in schedules:
        if isinstance(schedule, dict) and any(
            isinstance(entry, dict) and entry.get("task") == DRAIN_TASK
            for entry in schedule.values()
        ):
            return []
    reason = (
        "TRACKING_HANDOFF 'auto' with the Redis store"
        if handoff == "auto"
        else "TRACKING_HANDOFF 'redis'"
    )
    return [
        _error(
            "W011",
            f"{reason} hands events to a Redis list that only the {DRAIN_TASK} task moves to "
            "the broker, and no Celery beat entry runs it: events wait in Redis.",
            f"Add CELERY_BEAT_SCHEDULE = {{'django-experiments-drain': {{'task': "
            f"'{DRAIN_TASK}', 'schedule': 2.0}}}} (or run `manage.py drain_outbox` from cron and "
            "silence this check), or set TRACKING_HANDOFF = 'broker'.",
        )
    ]
