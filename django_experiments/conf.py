"""The one settings object: ``DJANGO_EXPERIMENTS`` read live, so ``override_settings`` works.

Every value reaches callers with the type its annotation on :class:`Settings` declares: a value
of the wrong type (which a system check reports) is replaced by the default, so code never
coerces settings itself.
"""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.utils.crypto import salted_hmac

#: Every supported key with its default. System checks (checks.py) validate the user's dict
#: against the types declared in ``TYPES``; README documents each key.
DEFAULTS: dict[str, Any] = {
    "CONTEXT_KEY_SECRET": None,
    "NAME_PREFIX": None,
    "ALLOW_FORCED_ASSIGNMENT": False,
    "FORCE_PARAM": "glex_force",
    "FORCE_STAFF_ONLY": False,
    "COOKIE_NAME": "experiments_actor",
    "COOKIE_DOMAIN": None,
    "COOKIE_SECURE": True,
    "COOKIE_HTTPONLY": True,
    "COOKIE_MAX_AGE": 60 * 60 * 24 * 365 * 2,
    "COOKIE_SAMESITE": "Lax",
    "RESPECT_DNT": True,
    # Where assignments stick: "redis" (django-redis hash per experiment), "cache" (any Django
    # cache alias), "none" (deterministic only), or a dotted path to a Store subclass.
    "STORE": "cache",
    "STORE_ALIAS": "default",
    "STORE_KEY_PREFIX": "glex",
    # Redis store only: split each experiment's hash into this many small hashes (0: one hash
    # per experiment). 4096 keeps ~2 million assignments per experiment in Redis's compact
    # encoding, about half the memory per assignment.
    "STORE_BUCKETS": 0,
    "DEFAULT_ROLLOUT": "percent",
    # Cross-process freshness bound for definitions: each process reloads them from the
    # database at most this often (seconds); the saving process sees its change at once.
    "DEFINITIONS_TTL": 5.0,
    "AUTO_CREATE_UNKNOWN": False,
    "STRICT_REGISTRATION": False,
    "NESTING": "raise",
    "TRACKING_SINKS": ["django_experiments.tracking.sinks.LoggingSink"],
    "TRACKING_DEDUPE_SECONDS": 86400,
    "TRACKING_MAX_ATTEMPTS": 5,
    "TRACKING_RETRY_BACKOFF": 2.0,
    "TRACKING_BATCH_SIZE": 500,
    "TRACKING_HTTP_URL": None,
    "TRACKING_HTTP_HEADERS": {},
    "TRACKING_HTTP_TIMEOUT": 5.0,
    "TRACKING_CALLABLE": None,
    # Cache alias for the cross-request assignment dedupe window (None: STORE_ALIAS).
    "TRACKING_DEDUPE_CACHE_ALIAS": None,
    # Ceiling of the exponential backoff between a sink's attempts, in seconds.
    "TRACKING_RETRY_BACKOFF_MAX": 600.0,
    # Quick publish retries when handing a batch to the broker before it goes to the outbox.
    "TRACKING_ENQUEUE_RETRIES": 1,
    # Celery queue for delivery tasks (None: the app's default queue).
    "TRACKING_QUEUE": None,
    # Where a request hands its events over: "broker" (one Celery publish per request),
    # "redis" (a Redis list, in the same round trip as the request's assignment writes; the
    # drain_outbox task moves the list to the broker), or "auto" ("redis" with the Redis
    # store, "broker" otherwise). docs/tracking.md, "Hand-off".
    "TRACKING_HANDOFF": "auto",
    # django-redis cache alias of the "redis" hand-off's list (None: STORE_ALIAS).
    "TRACKING_REDIS_ALIAS": None,
    "TRACKING_REDIS_KEY": "glex:events",
    # Seconds after which a drain that took events from the list and never confirmed them
    # (it crashed) is presumed dead: the next drain puts them back.
    "TRACKING_REDIS_VISIBILITY": 300.0,
    "TRACKING_CLIENT_THROTTLE_RATE": "120/min",
    "TRACKING_CLIENT_MAX_EVENTS": 20,
    "EVENT_MAX_PROPERTIES_BYTES": 4096,
    "EVENT_MAX_BODY_BYTES": 65536,
    "REDIRECT_ALLOWED_HOSTS": [],
    "REDIRECT_URL_VALIDATOR": None,
    "API_THROTTLE_RATE": "120/min",
    # Client events per experiment and context, whatever address or session posts them
    # (api/context_limit.py); None: no limit.
    "TRACKING_CLIENT_CONTEXT_RATE": "30/min",
    # Proxies (IPs or CIDRs) whose X-Forwarded-For the rate limits believe (api/client_ip.py);
    # empty: the socket address is the client's.
    "TRUSTED_PROXIES": [],
    # Results: hours after a context's first exposure during which its events count, per
    # experiment name ("*": every other experiment). Unlisted: no window.
    "CONVERSION_WINDOWS": {},
}

# Allowed types per key; a tuple means any of them. ``None`` is accepted where the default is.
TYPES: dict[str, tuple[type, ...]] = {
    "CONTEXT_KEY_SECRET": (str, bytes),
    "NAME_PREFIX": (str,),
    "ALLOW_FORCED_ASSIGNMENT": (bool,),
    "FORCE_PARAM": (str,),
    "FORCE_STAFF_ONLY": (bool,),
    "COOKIE_NAME": (str,),
    "COOKIE_DOMAIN": (str,),
    "COOKIE_SECURE": (bool,),
    "COOKIE_HTTPONLY": (bool,),
    "COOKIE_MAX_AGE": (int,),
    "COOKIE_SAMESITE": (str,),
    "RESPECT_DNT": (bool,),
    "STORE": (str,),
    "STORE_ALIAS": (str,),
    "STORE_KEY_PREFIX": (str,),
    "STORE_BUCKETS": (int,),
    "DEFAULT_ROLLOUT": (str, type),
    "DEFINITIONS_TTL": (int, float),
    "AUTO_CREATE_UNKNOWN": (bool,),
    "STRICT_REGISTRATION": (bool,),
    "NESTING": (str,),
    "TRACKING_SINKS": (list, tuple),
    "TRACKING_DEDUPE_SECONDS": (int,),
    "TRACKING_MAX_ATTEMPTS": (int,),
    "TRACKING_RETRY_BACKOFF": (int, float),
    "TRACKING_BATCH_SIZE": (int,),
    "TRACKING_HTTP_URL": (str,),
    "TRACKING_HTTP_HEADERS": (dict,),
    "TRACKING_HTTP_TIMEOUT": (int, float),
    "TRACKING_CALLABLE": (str,),
    "TRACKING_DEDUPE_CACHE_ALIAS": (str,),
    "TRACKING_RETRY_BACKOFF_MAX": (int, float),
    "TRACKING_ENQUEUE_RETRIES": (int,),
    "TRACKING_QUEUE": (str,),
    "TRACKING_HANDOFF": (str,),
    "TRACKING_REDIS_ALIAS": (str,),
    "TRACKING_REDIS_KEY": (str,),
    "TRACKING_REDIS_VISIBILITY": (int, float),
    "TRACKING_CLIENT_THROTTLE_RATE": (str,),
    "TRACKING_CLIENT_MAX_EVENTS": (int,),
    "EVENT_MAX_PROPERTIES_BYTES": (int,),
    "EVENT_MAX_BODY_BYTES": (int,),
    "REDIRECT_ALLOWED_HOSTS": (list, tuple),
    "REDIRECT_URL_VALIDATOR": (str,),
    "API_THROTTLE_RATE": (str,),
    "TRACKING_CLIENT_CONTEXT_RATE": (str, type(None)),  # None switches the limit off
    "TRUSTED_PROXIES": (list, tuple),
    "CONVERSION_WINDOWS": (dict,),
}

NESTING_CHOICES = ("raise", "warn", "allow")
SAMESITE_CHOICES = ("Lax", "Strict", "None")


#: Settings whose change must drop the cached values (sent by override_settings and
#: pytest-django's ``settings`` fixture through ``setting_changed``).
WATCHED = frozenset({"DJANGO_EXPERIMENTS", "SECRET_KEY", "SECRET_KEY_FALLBACKS"})


#: How each setting is coerced to its declared type (see ``_coerce``).
KINDS: dict[str, str] = {
    "CONTEXT_KEY_SECRET": "secret",
    "NAME_PREFIX": "opt_str",
    "ALLOW_FORCED_ASSIGNMENT": "bool",
    "FORCE_PARAM": "str",
    "FORCE_STAFF_ONLY": "bool",
    "COOKIE_NAME": "str",
    "COOKIE_DOMAIN": "opt_str",
    "COOKIE_SECURE": "bool",
    "COOKIE_HTTPONLY": "bool",
    "COOKIE_MAX_AGE": "int",
    "COOKIE_SAMESITE": "samesite",
    "RESPECT_DNT": "bool",
    "STORE": "str",
    "STORE_ALIAS": "str",
    "STORE_KEY_PREFIX": "str",
    "STORE_BUCKETS": "int",
    "DEFAULT_ROLLOUT": "rollout",
    "DEFINITIONS_TTL": "float",
    "AUTO_CREATE_UNKNOWN": "bool",
    "STRICT_REGISTRATION": "bool",
    "NESTING": "str",
    "TRACKING_SINKS": "str_tuple",
    "TRACKING_DEDUPE_SECONDS": "int",
    "TRACKING_MAX_ATTEMPTS": "int",
    "TRACKING_RETRY_BACKOFF": "float",
    "TRACKING_BATCH_SIZE": "int",
    "TRACKING_HTTP_URL": "opt_str",
    "TRACKING_HTTP_HEADERS": "str_dict",
    "TRACKING_HTTP_TIMEOUT": "float",
    "TRACKING_CALLABLE": "opt_str",
    "TRACKING_DEDUPE_CACHE_ALIAS": "opt_str",
    "TRACKING_RETRY_BACKOFF_MAX": "float",
    "TRACKING_ENQUEUE_RETRIES": "int",
    "TRACKING_QUEUE": "opt_str",
    "TRACKING_HANDOFF": "str",
    "TRACKING_REDIS_ALIAS": "opt_str",
    "TRACKING_REDIS_KEY": "str",
    "TRACKING_REDIS_VISIBILITY": "float",
    "TRACKING_CLIENT_THROTTLE_RATE": "opt_str",
    "TRACKING_CLIENT_MAX_EVENTS": "int",
    "EVENT_MAX_PROPERTIES_BYTES": "int",
    "EVENT_MAX_BODY_BYTES": "int",
    "REDIRECT_ALLOWED_HOSTS": "str_tuple",
    "REDIRECT_URL_VALIDATOR": "opt_str",
    "API_THROTTLE_RATE": "opt_str",
    "TRUSTED_PROXIES": "str_tuple",
    "TRACKING_CLIENT_CONTEXT_RATE": "opt_str",
    "CONVERSION_WINDOWS": "hours_dict",
}

#: Settings that were removed; still accepted (a check warns) so that old configs load.
REMOVED = frozenset(
    {
        "STORE_WRITE_BEHIND",
        "TRACKING_BACKGROUND_PUBLISH",
        "TRACKING_PUBLISH_LINGER",
        "DEFINITIONS_CACHE_ALIAS",
    }
)


def _coerce(kind: str, value: object, default: object) -> object:
    """``value`` as the declared type, or ``default`` when it is not of an allowed type."""
    if kind == "bool":
        return value if isinstance(value, bool) else default
    if kind == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else default
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return default
    if kind == "str":
        return value if isinstance(value, str) else default
    if kind == "opt_str":
        return value if value is None or isinstance(value, str) else default
    if kind == "secret":
        return value if value is None or isinstance(value, (str, bytes)) else default
    if kind == "samesite":
        return value if value in SAMESITE_CHOICES else default
    if kind == "rollout":
        return value if isinstance(value, (str, type)) else default
    if kind == "str_tuple":
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        return default
    if kind == "str_dict":
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return default
    if kind == "hours_dict":
        if not isinstance(value, dict):
            return default
        # Entries E030 reports (not hours) are left out rather than reaching callers.
        return {
            k: (None if v is None else float(v))
            for k, v in value.items()
            if isinstance(k, str)
            and (v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))
        }
    raise ValueError(f"unknown setting kind {kind!r}")


class Settings:
    """Attribute access to ``DJANGO_EXPERIMENTS`` with defaults, typed.

    The annotations below are what callers get. Values are resolved on first access and then
    read as plain attributes: resolution reads several settings per call, and going through
    ``django.conf.settings`` each time cost more than the hashing. ``override_settings`` (and
    anything else that sends ``setting_changed``) empties the cache, so tests and runtime
    overrides see their values at once. Mutating the dict in place, without the signal, is
    not seen: assign a new dict instead.
    """

    CONTEXT_KEY_SECRET: str | bytes | None
    NAME_PREFIX: str | None
    ALLOW_FORCED_ASSIGNMENT: bool
    FORCE_PARAM: str
    FORCE_STAFF_ONLY: bool
    COOKIE_NAME: str
    COOKIE_DOMAIN: str | None
    COOKIE_SECURE: bool
    COOKIE_HTTPONLY: bool
    COOKIE_MAX_AGE: int
    COOKIE_SAMESITE: Literal["Lax", "Strict", "None"]
    RESPECT_DNT: bool
    STORE: str
    STORE_ALIAS: str
    STORE_KEY_PREFIX: str
    STORE_BUCKETS: int
    DEFAULT_ROLLOUT: str | type
    DEFINITIONS_TTL: float
    AUTO_CREATE_UNKNOWN: bool
    STRICT_REGISTRATION: bool
    NESTING: str
    TRACKING_SINKS: tuple[str, ...]
    TRACKING_DEDUPE_SECONDS: int
    TRACKING_MAX_ATTEMPTS: int
    TRACKING_RETRY_BACKOFF: float
    TRACKING_BATCH_SIZE: int
    TRACKING_HTTP_URL: str | None
    TRACKING_HTTP_HEADERS: dict[str, str]
    TRACKING_HTTP_TIMEOUT: float
    TRACKING_CALLABLE: str | None
    TRACKING_DEDUPE_CACHE_ALIAS: str | None
    TRACKING_RETRY_BACKOFF_MAX: float
    TRACKING_ENQUEUE_RETRIES: int
    TRACKING_QUEUE: str | None
    TRACKING_HANDOFF: str
    TRACKING_REDIS_ALIAS: str | None
    TRACKING_REDIS_KEY: str
    TRACKING_REDIS_VISIBILITY: float
    TRACKING_CLIENT_THROTTLE_RATE: str | None
    TRACKING_CLIENT_MAX_EVENTS: int
    EVENT_MAX_PROPERTIES_BYTES: int
    EVENT_MAX_BODY_BYTES: int
    REDIRECT_ALLOWED_HOSTS: tuple[str, ...]
    REDIRECT_URL_VALIDATOR: str | None
    API_THROTTLE_RATE: str | None
    TRUSTED_PROXIES: tuple[str, ...]
    TRACKING_CLIENT_CONTEXT_RATE: str | None
    CONVERSION_WINDOWS: dict[str, float | None]

    def _user(self) -> dict[str, object]:
        value = getattr(django_settings, "DJANGO_EXPERIMENTS", None)
        return value if isinstance(value, dict) else {}

    def __getattr__(self, name: str) -> object:
        kind = KINDS.get(name)
        if kind is None:
            raise AttributeError(f"Unknown DJANGO_EXPERIMENTS setting {name!r}")
        default = DEFAULTS[name]
        if kind == "str_tuple" and isinstance(default, list):
            default = tuple(default)
        value = _coerce(kind, self._user().get(name, default), default)
        self.__dict__[name] = value
        return value

    def reload(self) -> None:
        """Forget cached values (called on ``setting_changed``)."""
        self.__dict__.clear()

    @property
    def context_key_secret(self) -> bytes:
        """The HMAC key for context keys.

        Derived from SECRET_KEY through a salted HMAC by default, so the raw SECRET_KEY never
        doubles as the context-key secret (a leaked key could then forge sessions).
        """
        cached: bytes | None = self.__dict__.get("_context_key_secret")
        if cached is None:
            cached = self.__dict__["_context_key_secret"] = self._derive_secret()
        return cached

    def _derive_secret(self) -> bytes:
        explicit = self._user().get("CONTEXT_KEY_SECRET")
        if isinstance(explicit, str) and explicit:
            return explicit.encode()
        if isinstance(explicit, (bytes, bytearray)) and explicit:
            return bytes(explicit)
        # Anything else (E003 reports it) falls through to the derived key: ``bytes(5)`` would
        # silently be five zero bytes, a secret anyone can guess.
        return salted_hmac("django_experiments.context_key", "secret").digest()

    @property
    def generation(self) -> int:
        """Bumped on every reload: other modules key their own caches on it."""
        return _generation[0]

    @property
    def cookie_name(self) -> str:
        """COOKIE_NAME with NAME_PREFIX applied, so prefixed apps on one domain do not clash."""
        return self.full_name(self.COOKIE_NAME)

    def full_name(self, name: str) -> str:
        prefix = self.NAME_PREFIX
        if prefix and not name.startswith(f"{prefix}_"):
            return f"{prefix}_{name}"
        return name


_generation = [0]


def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED:
        settings.reload()
        _generation[0] += 1


settings = Settings()
setting_changed.connect(_setting_changed, dispatch_uid="django_experiments_conf")
