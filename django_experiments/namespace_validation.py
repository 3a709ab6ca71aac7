"""Namespace shares and holdout percentages: the rules and their messages, in one place.

Shared by the models' ``clean()`` (so the admin, ``full_clean()`` and any form agree) and the
system check of namespaces saved around validation (checks.py, E019).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError

MSG_OVERLAP = (
    "The ranges of namespace {namespace!r} would overlap: {parts} add up to {total} % of its "
    "100 %. Lower a share or the holdout so that they fit."
)
MSG_NEEDS_SHARE = (
    "Set the share of namespace {namespace!r} this experiment owns (a percent, 0 to 100)."
)
MSG_NEEDS_NAMESPACE = "A namespace share needs a namespace: choose one or clear the share."


def percent_text(value: Decimal | int | float | str) -> str:
    """``Decimal("12.50")`` as ``12.5``: how the admin writes percentages."""
    text = f"{Decimal(str(value)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def validate_shares(
    namespace: str, holdout: Decimal | None, shares: Sequence[tuple[str, Decimal | None]]
) -> None:
    """Raise ValidationError when the holdout and the experiments' shares exceed 100 %."""
    parts = [(name, share) for name, share in shares if share]
    if holdout:
        parts.insert(0, ("the holdout", holdout))
    total = sum((Decimal(str(share)) for _, share in parts), Decimal(0))
    if total > 100:
        listed = ", ".join(f"{name} {percent_text(share)} %" for name, share in parts)
        raise ValidationError(
            MSG_OVERLAP.format(namespace=namespace, parts=listed, total=percent_text(total)),
            code="namespace_overlap",
        )
