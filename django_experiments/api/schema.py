"""The management API's own OpenAPI document (drf-spectacular), served at ``schema/``.

Generated from ``django_experiments.api.management_urls`` alone, so it describes this API
wherever it is mounted: the mount point becomes the document's server URL.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response

URLCONF = "django_experiments.api.management_urls"

SETTINGS: dict[str, Any] = {
    "TITLE": "django_experiments management API",
    "DESCRIPTION": (
        "Create experiments and treatments, change weights (each change is a phase recorded "
        "with the acting user), start, pause, conclude and re-randomise, read phases and "
        "results. Requires Django model permissions on django_experiments."
    ),
    "VERSION": "1",
    # Keep "experiments" in operation ids and tags (experiments_list, not root_list).
    "SCHEMA_PATH_PREFIX": "",
}


class ManagementSchemaView(SpectacularAPIView):
    urlconf = URLCONF
    schema = None  # not part of the document it serves

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        mount = request.path[: -len("schema/")] if request.path.endswith("schema/") else "/"
        self.custom_settings = {**SETTINGS, "SERVERS": [{"url": mount.rstrip("/") or "/"}]}
        response: Response = super().get(request, *args, **kwargs)
        return response
