"""Experiment results: rollups kept by the database sink, grouped SQL, statistics, rendering.

``results_for(experiment, phase=None, options=None)`` is the one entry point: the admin page,
its CSV export and its JSON URL all render the :class:`Report` it returns.
"""

from __future__ import annotations

from django_experiments.results.report import (
    SRM_THRESHOLD,
    Options,
    Report,
    ResultsError,
    results_for,
)

__all__ = ["SRM_THRESHOLD", "Options", "Report", "ResultsError", "results_for"]
