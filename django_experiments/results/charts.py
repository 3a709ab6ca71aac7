"""Server-rendered SVG for the results page: a forest plot per metric, a daily chart per variant.

Plain SVG strings (no script, no CDN, nothing to vendor); every text goes through ``escape``.
Numbers that are None or not finite draw nothing rather than break the picture.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from django_experiments.results.report import DailyPoint, Metric

WIDTH = 560
ROW = 28
LEFT = 120
RIGHT = 20
BAND = "#79aec8"
LINE = "#417690"
BAD = "#ba2121"
GOOD = "#2a7a2a"


def _finite(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _pct(value: float) -> str:
    text = f"{value * 100:+.1f}%" if value else "0%"
    return text.replace("+-", "-")


def forest_plot(metric: Metric) -> SafeString:
    """Each treatment's relative lift with its interval, as a bar around a line at 0."""
    rows = [r for r in metric.rows if not r.is_control]
    bounds = _finite(
        v
        for r in rows
        if r.comparison is not None
        for v in (r.comparison.ci_low, r.comparison.ci_high, r.comparison.lift)
    )
    span = max([abs(v) for v in bounds] + [0.01]) * 1.1
    low, high = -span, span
    plot = WIDTH - LEFT - RIGHT
    height = ROW * len(rows) + 34

    def x(value: float) -> float:
        return LEFT + (min(max(value, low), high) - low) / (high - low) * plot

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="glex-forest" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(metric.label)}: relative lift with interval per variant">'
    ]
    for tick in _ticks(low, high):
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="4" y2="{height - 22}" '
            f'stroke="#ddd"/><text x="{x(tick):.1f}" y="{height - 8}" font-size="10" '
            f'text-anchor="middle" fill="#666">{_pct(tick)}</text>'
        )
    parts.append(
        f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="2" y2="{height - 22}" stroke="#333" '
        'stroke-width="1.5"/>'
    )
    for i, row in enumerate(rows):
        y = 4 + ROW * i + ROW / 2
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" font-size="12" text-anchor="end">'
            f"{escape(row.variant)}</text>"
        )
        c = row.comparison
        if c is None or not _finite([c.ci_low, c.ci_high, c.lift]) or c.lift is None:
            parts.append(
                f'<text x="{x(0) + 6:.1f}" y="{y + 4:.1f}" font-size="11" fill="#666">'
                "not enough data</text>"
            )
            continue
        colour = LINE
        if c.ci_low is not None and c.ci_low > 0:
            colour = GOOD
        elif c.ci_high is not None and c.ci_high < 0:
            colour = BAD
        if c.ci_low is not None and c.ci_high is not None:
            parts.append(
                f'<rect x="{x(c.ci_low):.1f}" y="{y - 6:.1f}" '
                f'width="{max(x(c.ci_high) - x(c.ci_low), 1):.1f}" height="12" rx="3" '
                f'fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>'
            )
        parts.append(
            f'<circle cx="{x(c.lift):.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
            f"<title>{escape(row.variant)}: {_pct(c.lift)}</title></circle>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped text and numbers


def daily_chart(
    metric: Metric, variant: str, scale: tuple[float, float] | None = None
) -> SafeString:
    """The variant's cumulative rate (or mean) by exposure day, with its interval as a band."""
    points: Sequence[DailyPoint] = metric.daily.get(variant, [])
    width, height, left, bottom, top = 260, 140, 44, 22, 8
    low, high = scale or daily_scale(metric)
    plotted = [p for p in points if p.mean is not None and math.isfinite(p.mean)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="glex-daily" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(variant)}: cumulative {escape(metric.kind)} by day">'
    ]
    n = len(points)

    def x(i: int) -> float:
        return left + (i / (n - 1) if n > 1 else 0.5) * (width - left - 8)

    def y(value: float) -> float:
        value = min(max(value, low), high)
        return top + (1 - (value - low) / (high - low)) * (height - top - bottom)

    percent = metric.kind == "binomial"
    for tick in _ticks(low, high, 4):
        label = f"{tick:.0%}" if percent else f"{tick:g}"
        parts.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#eee"/><text x="{left - 4}" y="{y(tick) + 3:.1f}" font-size="9" '
            f'text-anchor="end" fill="#666">{escape(label)}</text>'
        )
    if not plotted:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" font-size="11" text-anchor="middle" '
            'fill="#666">no data</text></svg>'
        )
        return mark_safe("".join(parts))  # noqa: S308
    band = [
        (i, p.low, p.high) for i, p in enumerate(points) if p.low is not None and p.high is not None
    ]
    if band:
        upper = " ".join(f"{x(i):.1f},{y(high):.1f}" for i, _, high in band)
        lower = " ".join(f"{x(i):.1f},{y(low):.1f}" for i, low, _ in reversed(band))
        parts.append(f'<polygon points="{upper} {lower}" fill="{BAND}" fill-opacity="0.3"/>')
    line = " ".join(
        f"{x(i):.1f},{y(p.mean):.1f}"
        for i, p in enumerate(points)
        if p.mean is not None and math.isfinite(p.mean)
    )
    parts.append(f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    if n == 1:
        # One day so far: a dot with its interval as an error bar (a line needs two days).
        only = points[0]
        if only.low is not None and only.high is not None:
            parts.append(
                f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{y(only.low):.1f}" '
                f'y2="{y(only.high):.1f}" stroke="{LINE}" stroke-width="2"/>'
            )
        parts.append(
            f'<circle cx="{x(0):.1f}" cy="{y(only.mean or 0.0):.1f}" r="4" fill="{LINE}"/>'
        )
    first, last = points[0].day, points[-1].day
    parts.append(
        f'<text x="{left}" y="{height - 6}" font-size="9" fill="#666">{first:%b %d}</text>'
        f'<text x="{width - 8}" y="{height - 6}" font-size="9" text-anchor="end" '
        f'fill="#666">{last:%b %d}</text></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308


def daily_scale(metric: Metric) -> tuple[float, float]:
    """One y range for every variant of a metric, so their charts compare at a glance."""
    values = _finite(
        v for points in metric.daily.values() for p in points for v in (p.low, p.high, p.mean)
    )
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if metric.kind == "binomial":
        low, high = max(0.0, low), min(1.0, high)
    if high - low < 1e-9:
        pad = abs(high) * 0.1 or 0.01
        low, high = low - pad, high + pad
    return low, high
