"""The management API's OpenAPI document: generated and validated without a warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient


def test_schema_generates_and_validates_without_warnings(tmp_path: Path, db: Any) -> None:
    out = tmp_path / "schema.json"
    # --fail-on-warn turns any generator warning (an unguessable type, a missing serializer)
    # into an error; --validate checks the document against the OpenAPI 3 JSON schema.
    call_command(
        "spectacular",
        "--urlconf",
        "django_experiments.api.management_urls",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(out),
    )
    schema = json.loads(out.read_text())
    paths = schema["paths"]
    assert set(paths) == {
        "/experiments/",
        "/experiments/{name}/",
        "/experiments/{name}/start/",
        "/experiments/{name}/pause/",
        "/experiments/{name}/conclude/",
        "/experiments/{name}/rerandomise/",
        "/experiments/{name}/weights/",
        "/experiments/{name}/phases/",
        "/experiments/{name}/results/",
        "/experiments/{experiment}/treatments/",
        "/experiments/{experiment}/treatments/{name}/",
    }
    assert {"Experiment", "Treatment", "Phase"} <= set(schema["components"]["schemas"])


@pytest.mark.django_db
def test_schema_endpoint_serves_it_with_the_mount_point_as_server() -> None:
    response = APIClient().get("/api/glex/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["servers"] == [{"url": "/api/glex"}]
    assert schema["info"]["title"] == "django_experiments management API"
    assert "/schema/" not in schema["paths"]
