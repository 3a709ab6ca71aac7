"""Client API size limits: oversized or overfull query strings and bodies are 4xx, never 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from django_experiments.models import Experiment

pytestmark = pytest.mark.django_db

URL = "/experiments/assignments/"


@pytest.fixture
def visible(make_experiment: Any) -> None:
    exp = make_experiment("cta")
    Experiment.objects.filter(pk=exp.pk).update(client_visible=True)


@pytest.mark.parametrize(
    "query",
    [
        "experiments=" + "a," * 200_000,  # 400 KB of names
        "experiments=" + "x" * 1_000_000,  # one 1 MB name
        "experiments=" + ",".join(f"e{i}" for i in range(21)),  # over MAX_EXPERIMENTS
        "&".join(f"f{i}=1" for i in range(2000)),  # beyond DATA_UPLOAD_MAX_NUMBER_FIELDS
        "experiments=%00",
        "experiments=%ff%fe",
    ],
)
def test_oversized_queries_are_400s(visible: None, query: str) -> None:
    response = Client().get(URL, QUERY_STRING=query)
    assert response.status_code == 400
    assert len(response.content) < 2000  # the error does not echo the input back


def test_bodies_are_not_read(visible: None) -> None:
    client = Client()
    for body in (b"[" * 100_000, b"x" * 3_000_000):
        response = client.post(URL, data=body, content_type="application/json")
        assert response.status_code == 405
