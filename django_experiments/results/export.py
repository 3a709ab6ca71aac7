"""CSV export of a results report: one row per metric and variant, the numbers the page shows."""

from __future__ import annotations

import csv
import io
from typing import Any

from django_experiments.results.report import Report

COLUMNS = (
    "experiment",
    "phase",
    "metric",
    "event",
    "kind",
    "variant",
    "is_control",
    "exposed",
    "converted",
    "total",
    "mean",
    "lift",
    "ci_low",
    "ci_high",
    "p_value",
    "adjusted_p_value",
    "chance_to_win",
    "risk",
    "srm_p_value",
)

#: A text cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    phase = report.phase.number if report.phase is not None else None
    for metric in report.metrics:
        for row in metric.rows:
            c = row.comparison
            writer.writerow(
                [
                    _cell(v)
                    for v in (
                        report.experiment,
                        phase,
                        metric.key,
                        metric.event,
                        metric.kind,
                        row.variant,
                        row.is_control,
                        row.exposed,
                        row.converted,
                        row.total,
                        row.mean,
                        c.lift if c else None,
                        c.ci_low if c else None,
                        c.ci_high if c else None,
                        c.p_value if c else None,
                        c.adjusted_p_value if c else None,
                        c.chance_to_win if c else None,
                        c.risk if c else None,
                        report.srm_p_value,
                    )
                ]
            )
    return out.getvalue()
