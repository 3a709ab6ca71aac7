"""``settle()``: what a first visit writes after its response is there to assert on."""

from __future__ import annotations

from typing import Any

import pytest

from django_experiments import experiment
from django_experiments.engine import writebehind
from django_experiments.engine.context import key_for
from django_experiments.engine.scope import Scope, activate, anonymous_identity
from django_experiments.engine.stores import get_store
from django_experiments.testing import settle

pytestmark = pytest.mark.django_db


def test_settle_writes_a_first_visit_now(redis_store: Any, make_experiment: Any) -> None:
    make_experiment("cta", control=1, b=1)
    scope = Scope(write_behind=True)  # as the middleware's
    with activate(scope):
        variant = experiment("cta", actor=None).assigned.name
    writebehind.flush_scope(scope)  # what the middleware does after the response
    assert settle() is True
    actor = anonymous_identity(scope.new_anonymous_id or "")
    assert get_store().get("cta", key_for("cta", {"actor": actor})) == variant
