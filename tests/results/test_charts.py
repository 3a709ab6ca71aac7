"""The SVG charts: valid XML, escaped text, safe with missing or infinite numbers."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import date

from django_experiments.results.analysis import Comparison
from django_experiments.results.charts import daily_chart, daily_scale, forest_plot
from django_experiments.results.report import DailyPoint, Metric, MetricRow

SVG = "{http://www.w3.org/2000/svg}"


def row(variant: str, comparison: Comparison | None, control: bool = False) -> MetricRow:
    return MetricRow(variant, control, 100, 10, 10.0, 0.1, comparison)


def metric(*rows: MetricRow, daily: dict[str, list[DailyPoint]] | None = None) -> Metric:
    return Metric("clicked", "binomial", list(rows), daily or {})


def test_forest_plot_draws_one_bar_per_treatment_around_zero() -> None:
    m = metric(
        row("control", None, control=True),
        row("better", Comparison(lift=0.2, ci_low=0.05, ci_high=0.35)),
        row("unclear", Comparison(lift=-0.01, ci_low=-0.2, ci_high=0.18)),
    )
    svg = ET.fromstring(str(forest_plot(m)))
    bars = svg.findall(f"{SVG}rect")
    assert len(bars) == 2
    assert bars[0].get("fill") == "#2a7a2a"  # interval above 0: green
    assert bars[1].get("fill") == "#417690"  # straddles 0: neutral


def test_forest_plot_survives_missing_and_infinite_numbers() -> None:
    m = metric(
        row("control", None, control=True),
        row("none", None),
        row("inf", Comparison(lift=math.inf, ci_low=-math.inf, ci_high=math.inf)),
        row("<script>", Comparison(lift=0.1, ci_low=None, ci_high=None)),
    )
    text = str(forest_plot(m))
    svg = ET.fromstring(text)  # well-formed
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert text.count("not enough data") == 2
    assert len(svg.findall(f"{SVG}circle")) == 1


def test_daily_chart_band_line_and_single_day() -> None:
    days = [date(2026, 1, d) for d in (1, 2, 3)]
    points = [DailyPoint(d, 10 * i, 0.1 * i, 0.05 * i, 0.15 * i) for i, d in enumerate(days, 1)]
    m = metric(row("control", None, True), daily={"control": points, "one": points[:1]})
    svg = ET.fromstring(str(daily_chart(m, "control")))
    assert svg.find(f"{SVG}polygon") is not None and svg.find(f"{SVG}polyline") is not None
    single = ET.fromstring(str(daily_chart(m, "one", daily_scale(m))))
    assert single.find(f"{SVG}circle") is not None
    empty = ET.fromstring(str(daily_chart(m, "missing")))
    assert "no data" in ET.tostring(empty, encoding="unicode")
