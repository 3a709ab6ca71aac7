"""A database sink that also records whether an event's row was committed when it shipped."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from django_experiments.tracking.sinks import DatabaseSink


class CommitCheckingSink(DatabaseSink):
    """Before storing, looks up each event's ``group`` property on a separate connection.

    A separate connection sees only committed rows: an event shipped from inside the
    transaction that created its row would be stored with ``group_committed: false``.
    """

    def send(self, batch: Sequence[dict[str, Any]]) -> None:
        names = [e["properties"]["group"] for e in batch if "group" in e.get("properties", {})]
        if names:
            path = settings.DATABASES["default"]["NAME"]
            with sqlite3.connect(path, timeout=20) as connection:
                marks = ",".join("?" * len(names))
                query = f"SELECT name FROM auth_group WHERE name IN ({marks})"
                rows = connection.execute(query, names).fetchall()
            committed = {row[0] for row in rows}
            batch = [
                {
                    **e,
                    "properties": {
                        **e["properties"],
                        "group_committed": e["properties"]["group"] in committed,
                    },
                }
                if "group" in e.get("properties", {})
                else e
                for e in batch
            ]
        super().send(batch)
