"""System check of namespaces saved around validation (ID ``django_experiments.E019``).

The admin and ``full_clean()`` refuse overlapping ranges; a ``QuerySet.update()``, raw SQL or
two editors saving at once can still leave a namespace whose holdout and shares add up to
more than 100 %. Resolution then cuts the experiments that joined last (they get what is
left) rather than let ranges overlap; this check says so at start-up and in ``check``.

Like the class check, it reads the database and reports nothing when it cannot.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core import checks
from django.core.exceptions import ValidationError

from django_experiments.namespace_validation import validate_shares

logger = logging.getLogger("django_experiments")

ID = "django_experiments.E019"


@checks.register("django_experiments")
def check_namespaces(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django_experiments.models import Namespace

    try:
        found = list(Namespace.objects.prefetch_related("experiments").order_by("name"))
    except Exception:
        # Not migrated yet, no database in this command, or access blocked (tests).
        logger.debug("Namespaces unavailable for the namespace check", exc_info=True)
        return []
    messages: list[checks.CheckMessage] = []
    for namespace in found:
        members = sorted(namespace.experiments.all(), key=lambda e: e.pk)
        try:
            validate_shares(
                namespace.name,
                namespace.holdout_percent,
                [(e.name, e.namespace_share) for e in members],
            )
        except ValidationError as exc:
            messages.append(
                checks.Error(
                    " ".join(exc.messages),
                    hint=(
                        "Experiments that joined last get only the slots that are left. Lower "
                        "a share or the holdout in the admin."
                    ),
                    obj=namespace,
                    id=ID,
                )
            )
    return messages
