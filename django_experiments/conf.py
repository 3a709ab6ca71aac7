"""The one settings object: ``DJANGO_EXPERIMENTS`` read live, so ``override_settings`` works."""

from __future__ import annotations

from typing import Any

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
    # A visitor first seen in this request (a just-minted anonymous id) has nothing stored:
    # skip their reads and write their deterministic assignments after the response, from a
    # background thread, in one batch for many requests. False: one write at response end.
    "STORE_WRITE_BEHIND": True,
    "DEFAULT_ROLLOUT": "percent",
    # Cross-process freshness bound for definitions edited in the admin, in seconds.
    "DEFINITIONS_TTL": 5.0,
    "DEFINITIONS_CACHE_ALIAS": "default",
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
    # Publish to the broker from a background thread (off the request path); eager Celery
    # always publishes inline.
    "TRACKING_BACKGROUND_PUBLISH": True,
    # Seconds the background publisher waits after the first batch so that more requests'
    # events join it in one task (fewer, larger publishes: far less CPU per event).
    "TRACKING_PUBLISH_LINGER": 0.05,
    "TRACKING_CLIENT_THROTTLE_RATE": "120/min",
    "TRACKING_CLIENT_MAX_EVENTS": 20,
    "EVENT_MAX_PROPERTIES_BYTES": 4096,
    "EVENT_MAX_BODY_BYTES": 65536,
    "REDIRECT_ALLOWED_HOSTS": [],
    "REDIRECT_URL_VALIDATOR": None,
    "API_THROTTLE_RATE": "120/min",
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
    "STORE_WRITE_BEHIND": (bool,),
    "DEFAULT_ROLLOUT": (str, type),
    "DEFINITIONS_TTL": (int, float),
    "DEFINITIONS_CACHE_ALIAS": (str,),
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
    "TRACKING_BACKGROUND_PUBLISH": (bool,),
    "TRACKING_PUBLISH_LINGER": (int, float),
    "TRACKING_CLIENT_THROTTLE_RATE": (str,),
    "TRACKING_CLIENT_MAX_EVENTS": (int,),
    "EVENT_MAX_PROPERTIES_BYTES": (int,),
    "EVENT_MAX_BODY_BYTES": (int,),
    "REDIRECT_ALLOWED_HOSTS": (list, tuple),
    "REDIRECT_URL_VALIDATOR": (str,),
    "API_THROTTLE_RATE": (str,),
    "CONVERSION_WINDOWS": (dict,),
}

NESTING_CHOICES = ("raise", "warn", "allow")
SAMESITE_CHOICES = ("Lax", "Strict", "None")


#: Settings whose change must drop the cached values (sent by override_settings and
#: pytest-django's ``settings`` fixture through ``setting_changed``).
WATCHED = frozenset({"DJANGO_EXPERIMENTS", "SECRET_KEY", "SECRET_KEY_FALLBACKS"})


class Settings:
    """Attribute access to ``DJANGO_EXPERIMENTS`` with defaults.

    Values are resolved once and then read as plain attributes: resolution reads several
    settings per call, and going through ``django.conf.settings`` each time cost more than the
    hashing. ``override_settings`` (and anything else that sends ``setting_changed``) empties
    the cache, so tests and runtime overrides see their values at once. Mutating the dict in
    place, without the signal, is not seen: assign a new dict instead.
    """

    def _user(self) -> dict[str, Any]:
        value = getattr(django_settings, "DJANGO_EXPERIMENTS", None)
        return value if isinstance(value, dict) else {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown DJANGO_EXPERIMENTS setting {name!r}")
        value = self._user().get(name, DEFAULTS[name])
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
