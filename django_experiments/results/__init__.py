"""Experiment results: rollups kept by the database sink, grouped SQL, statistics, rendering.

``results_for(experiment, phase=None, options=None)`` is the one entry point: the admin page,
its CSV export and its JSON URL all render the :class:`Report` it returns.

The names below load on first use: the worker imports ``results.rollup`` for every batch and
must not pay for the statistics (scipy) it never calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_experiments.results.report import (
        SRM_THRESHOLD,
        Options,
        Report,
        ResultsError,
        results_for,
    )

__all__ = ["SRM_THRESHOLD", "Options", "Report", "ResultsError", "results_for"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from django_experiments.results import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
