"""Cookie migration on login: the anonymous visitor's variants follow them to their account.

On ``user_logged_in``, for every running or paused experiment, the variant stored under the
anonymous cookie key moves to the user's key unless the user already has one (the user's own
assignment wins); the anonymous entry is deleted either way. All experiments move in one call to
``Store.migrate`` (one pipelined round trip on the Redis store). The cookie is independent of the
session, so the session key rotation that ``login()`` performs does not affect it.

Only actor-only contexts (``actor=user``, the default of ``request.experiment``) can be moved
here, since other context values are unknown at login. Experiments resolved later in the same
request, with any context, carry the anonymous key in ``migration_keys`` and migrate lazily.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from django_experiments.conf import settings
from django_experiments.engine import assignments, definitions
from django_experiments.engine.context import key_for
from django_experiments.engine.experiment import PAUSED, RUNNING
from django_experiments.engine.scope import Scope, anonymous_identity
from django_experiments.engine.stores import get_store

logger = logging.getLogger("django_experiments")

#: Statuses whose stored assignments still matter (paused keeps existing assignments).
MIGRATED_STATUSES = (RUNNING, PAUSED)


def moves_for(anonymous_id: str, user: Any) -> list[tuple[str, str, str]]:
    """``(store name, anonymous key, user key)`` for every experiment with live assignments."""
    anonymous = {"actor": anonymous_identity(anonymous_id)}
    known = {"actor": user}
    moves = []
    for definition in definitions.all_definitions().values():
        if definition.status not in MIGRATED_STATUSES:
            continue
        # Definitions are named like the admin rows; context keys use the full name.
        full_name = settings.full_name(definition.name)
        moves.append(
            (definition.store_name, key_for(full_name, anonymous), key_for(full_name, known))
        )
    return moves


def migrate(scope: Scope, user: Any) -> dict[str, str]:
    """Move the scope's anonymous assignments to ``user``; returns what moved. Never raises."""
    anonymous_id = scope.anonymous_id or scope.new_anonymous_id
    if anonymous_id is None:
        return {}
    # A visitor first seen in this request: their assignments are still on the scope; store
    # them first so that the migration below finds them.
    assignments.write_pending(scope)
    # From here on the request belongs to the user: later resolutions carry the anonymous
    # key as a migration key, no new cookie is written, and the old one is deleted.
    scope.previous_anonymous_id = anonymous_id
    scope.anonymous_id = None
    scope.new_anonymous_id = None
    scope.anonymous_used = False
    scope.anonymous_resolved = True
    # Resolutions memoised (and store reads remembered) for the anonymous actor must not be
    # served to the user.
    scope.memo.clear()
    scope.known.clear()
    try:
        return get_store().migrate(moves_for(anonymous_id, user))
    except Exception:
        # A store outage must not break logging in; the lazy migration keys still apply to
        # experiments resolved in this request.
        logger.warning("Migrating anonymous assignments on login failed", exc_info=True)
        return {}


@receiver(user_logged_in, dispatch_uid="django_experiments_login_migration")
def on_user_logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    from django_experiments.middleware import RequestExperiments, scope_of

    # test-client login() and logins outside a request have no scope (and no cookie).
    scope = scope_of(request) if request is not None else None
    if scope is None or user is None:
        return
    helper = getattr(request, "experiment", None)
    if isinstance(helper, RequestExperiments):
        # Experiments resolved later in this request are the user's, not the anonymous id's.
        helper.forget_user()
    migrate(scope, user)
