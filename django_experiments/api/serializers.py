"""Input validation and output shape of the client API."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

#: Names as the admin accepts them (slugs), without or with the NAME_PREFIX.
NAME = re.compile(r"[-a-zA-Z0-9_]{1,100}")
MAX_EXPERIMENTS = 20


class AssignmentsQuerySerializer(serializers.Serializer):
    """``?experiments=a,b``: comma-separated experiment names, at most 20, deduplicated."""

    experiments = serializers.CharField(max_length=MAX_EXPERIMENTS * 101, trim_whitespace=True)

    def validate_experiments(self, value: str) -> list[str]:
        names: list[str] = []
        for raw in value.split(","):
            name = raw.strip()
            if not name:
                continue
            if not NAME.fullmatch(name):
                raise serializers.ValidationError(
                    f"{name[:100]!r} is not an experiment name (letters, digits, '-' and '_')."
                )
            if name not in names:
                names.append(name)
        if not names:
            raise serializers.ValidationError("Name at least one experiment.")
        if len(names) > MAX_EXPERIMENTS:
            raise serializers.ValidationError(f"At most {MAX_EXPERIMENTS} experiments per request.")
        return names


class AssignmentSerializer(serializers.Serializer):
    """One experiment's assignment for the current visitor (its signature plus the payload)."""

    experiment = serializers.CharField()
    variant = serializers.CharField()
    payload = serializers.JSONField(allow_null=True)
    key = serializers.CharField()
    migration_keys = serializers.ListField(child=serializers.CharField(), required=False)
    excluded = serializers.BooleanField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if not data.get("migration_keys"):
            data.pop("migration_keys", None)
        return data
