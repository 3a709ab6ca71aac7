"""The request-layer fixtures (tests/web/conftest.py) for these tests too."""

from tests.tracking.conftest import eager_celery, tracking_settings  # noqa: E402, F401
from tests.web.conftest import client_factory, cta, store, user  # noqa: F401
