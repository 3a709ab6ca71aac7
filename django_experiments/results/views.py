"""The admin's results views: HTML page, JSON and CSV of one :func:`results_for` report.

Wired by ``ExperimentAdmin.get_urls`` (admin.py), behind ``admin_site.admin_view`` and the
model's view permission. Bad query parameters answer 400 with the reason, never a 500.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import slugify

from django_experiments.models import Experiment
from django_experiments.results import charts
from django_experiments.results.export import to_csv
from django_experiments.results.report import Options, Report, ResultsError, results_for

TEMPLATE = "admin/django_experiments/experiment/results.html"


def _report(request: HttpRequest, experiment: Experiment) -> Report:
    return results_for(experiment, request.GET.get("phase"), Options.parse(request.GET))


def results_json(request: HttpRequest, experiment: Experiment) -> HttpResponse:
    try:
        report = _report(request, experiment)
    except ResultsError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(report.as_dict())


def results_csv(request: HttpRequest, experiment: Experiment) -> HttpResponse:
    try:
        report = _report(request, experiment)
    except ResultsError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    phase = report.phase.number if report.phase is not None else "none"
    response = HttpResponse(to_csv(report), content_type="text/csv; charset=utf-8")
    filename = f"{slugify(experiment.name)}-phase-{phase}-results.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def results_page(
    request: HttpRequest, experiment: Experiment, admin_context: dict[str, Any]
) -> HttpResponse:
    context: dict[str, Any] = {
        **admin_context,
        "original": experiment,
        "title": f"{experiment.name}: results",
    }
    try:
        report = _report(request, experiment)
    except ResultsError as exc:
        context["error"] = str(exc)
        return TemplateResponse(request, TEMPLATE, context, status=400)
    query = {
        k: v for k, v in request.GET.items() if k in ("phase", "alpha", "correction", "sequential")
    }
    if report.phase is not None:
        query["phase"] = str(report.phase.number)
    suffix = f"?{urlencode(query)}" if query else ""
    context.update(
        {
            "results": report,
            "summary": _summary_view(report),
            "variants": [
                {
                    "name": v.name,
                    "is_control": v.is_control,
                    "exposed": v.exposed,
                    "expected": pct(v.expected_share),
                    "observed": pct(v.observed_share),
                }
                for v in report.variants
            ],
            "srm_text": num(report.srm_p_value, 3),
            "metrics": [_metric_view(m, report.options.alpha) for m in report.metrics],
            "holdout": _holdout_view(report),
            "json_url": reverse(
                "admin:django_experiments_experiment_results_json", args=[experiment.pk]
            )
            + suffix,
            "csv_url": reverse(
                "admin:django_experiments_experiment_results_csv", args=[experiment.pk]
            )
            + suffix,
        }
    )
    return TemplateResponse(request, TEMPLATE, context)


def pct(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return "—"
    return f"{value * 100:{'+' if signed else ''}.{digits}f}%"


def num(value: float | None, digits: int = 4) -> str:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return "—"
    return f"{value:.{digits}g}"


def _summary_view(report: Report) -> list[dict[str, Any]]:
    return [
        {
            **line,
            "chance": pct(line["chance_to_win"], 0),
            "lift_text": pct(line["lift"], 1, signed=True),
            "p_text": num(line["p_value"], 3),
        }
        for line in report.summary()
    ]


def _holdout_view(report: Report) -> dict[str, Any] | None:
    held = report.holdout
    if held is None:
        return None
    rows = []
    for m in held.metrics:
        binomial = m.kind == "binomial"
        c = m.comparison
        show = (lambda v: pct(v, 2)) if binomial else num
        shift = (lambda v: pct(v, 2, signed=True)) if binomial else num
        rows.append(
            {
                "label": m.label,
                "holdout": show(m.holdout_mean),
                "rest": show(m.rest_mean),
                "difference": shift(c.difference),
                "interval": (
                    f"[{shift(c.ci_low)}, {shift(c.ci_high)}]" if c.ci_low is not None else "—"
                ),
                "lift": pct(c.lift, 1, signed=True),
                "p_value": num(c.p_value, 3),
                "significant": c.p_value is not None and c.p_value < report.options.alpha,
            }
        )
    return {"exposed": held.exposed, "rest_exposed": held.rest_exposed, "rows": rows}


def _metric_view(metric: Any, alpha: float) -> dict[str, Any]:
    scale = charts.daily_scale(metric)
    binomial = metric.kind == "binomial"
    rows = []
    for row in metric.rows:
        c = row.comparison
        rows.append(
            {
                "variant": row.variant,
                "is_control": row.is_control,
                "exposed": row.exposed,
                "converted": row.converted if binomial else num(row.total, 6),
                "mean": pct(row.mean, 2) if binomial else num(row.mean),
                "lift": pct(c.lift, 1, signed=True) if c else "",
                "interval": (f"[{pct(c.ci_low, 1, True)}, {pct(c.ci_high, 1, True)}]" if c else ""),
                "p_value": num(c.p_value, 3) if c else "",
                "adjusted": num(c.adjusted_p_value, 3) if c else "",
                "chance": pct(c.chance_to_win, 1) if c else "",
                "risk": pct(c.risk, 2) if c else "",
                "significant": bool(c and c.significant(alpha)),
            }
        )
    return {
        "metric": metric,
        "rows": rows,
        "forest": charts.forest_plot(metric),
        "daily": [
            (row.variant, charts.daily_chart(metric, row.variant, scale)) for row in metric.rows
        ],
    }
