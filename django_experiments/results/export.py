"""CSV export of a results report: the numbers the page shows.

One row per metric and variant (``group`` "variant"), then, when a holdout covers the phase,
two rows per metric for the holdout section (``group`` "holdout" and "everyone_else", their
``variant`` cells ``:holdout`` and ``:everyone_else``, which no treatment slug can be). The
everyone-else row carries the comparison, as a treatment row does against control: the
relative lift with its interval and p-value, and in the last three columns the absolute
difference (everyone else minus the holdout) with its interval.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django_experiments.results.holdout import HoldoutMetric
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
    "group",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
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
                _row(
                    report,
                    phase,
                    metric.event,
                    metric.kind,
                    group="variant",
                    variant=row.variant,
                    is_control=row.is_control,
                    exposed=row.exposed,
                    converted=row.converted,
                    total=row.total,
                    mean=row.mean,
                    lift=c.lift if c else None,
                    ci_low=c.ci_low if c else None,
                    ci_high=c.ci_high if c else None,
                    p_value=c.p_value if c else None,
                    adjusted_p_value=c.adjusted_p_value if c else None,
                    chance_to_win=c.chance_to_win if c else None,
                    risk=c.risk if c else None,
                    srm_p_value=report.srm_p_value,
                )
            )
    if report.holdout is not None:
        for m in report.holdout.metrics:
            writer.writerows(_holdout_rows(report, phase, m))
    return out.getvalue()


def _holdout_rows(report: Report, phase: int | None, m: HoldoutMetric) -> list[list[Any]]:
    """The holdout (the baseline) and everyone else (with the comparison) on one metric."""
    c = m.comparison

    def group(name: str, exposed: int, mean: float | None, **comparison: Any) -> list[Any]:
        return _row(
            report,
            phase,
            m.event,
            m.kind,
            group=name,
            variant=f":{name}",
            is_control=False,
            exposed=exposed,
            mean=mean,
            **comparison,
        )

    return [
        group("holdout", m.holdout_exposed, m.holdout_mean),
        group(
            "everyone_else",
            m.rest_exposed,
            m.rest_mean,
            lift=c.lift,
            ci_low=c.lift_ci_low,
            ci_high=c.lift_ci_high,
            p_value=c.p_value,
            difference=c.difference,
            difference_ci_low=c.ci_low,
            difference_ci_high=c.ci_high,
        ),
    ]


def _row(report: Report, phase: int | None, event: str, kind: str, **cells: Any) -> list[Any]:
    """One CSV row in :data:`COLUMNS` order; a column not given is empty."""
    cells.update(
        experiment=report.experiment, phase=phase, metric=f"{event}:{kind}", event=event, kind=kind
    )
    unknown = set(cells) - set(COLUMNS)
    assert not unknown, f"not CSV columns: {sorted(unknown)}"
    return [_cell(cells.get(column)) for column in COLUMNS]
