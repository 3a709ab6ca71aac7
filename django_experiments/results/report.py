"""One experiment phase's results: the single function behind the admin page, CSV and JSON.

:func:`results_for` aggregates the phase's rollups in the database (``aggregate``), then builds
per metric the variants' summaries, their comparisons with control (``analysis``), the daily
cumulative series and a plain-language summary; :meth:`Report.as_dict` is the JSON document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django_experiments.conf import settings
from django_experiments.models import Experiment, Phase
from django_experiments.results import analysis, holdout
from django_experiments.results.aggregate import Aggregates, Totals, aggregate
from django_experiments.stats.srm import SRM_THRESHOLD

#: SRM p-values below this head the page with a red warning (and flag the admin list).
CORRECTIONS = ("holm", "none")


class ResultsError(ValueError):
    """Bad results parameters (an unknown phase, a bad alpha...); the message says why."""


@dataclass(frozen=True)
class Options:
    alpha: float = 0.05
    correction: str = "holm"
    #: gbstats's sequential tuning parameter; None: fixed-horizon tests.
    sequential_tuning: float | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Options:
        """From query parameters (``alpha``, ``correction``, ``sequential``); raises
        ResultsError with a readable message on bad input."""
        options = cls()
        alpha = params.get("alpha")
        if alpha:
            try:
                value = float(alpha)
            except ValueError:
                raise ResultsError(f"alpha must be a number, got {alpha!r}") from None
            if not 0 < value < 0.5:
                raise ResultsError("alpha must be between 0 and 0.5")
            options = Options(value, options.correction, options.sequential_tuning)
        correction = params.get("correction")
        if correction:
            if correction not in CORRECTIONS:
                raise ResultsError(f"correction must be one of {', '.join(CORRECTIONS)}")
            options = Options(options.alpha, correction, options.sequential_tuning)
        sequential = params.get("sequential")
        if sequential:
            try:
                tuning = float(sequential)
            except ValueError:
                raise ResultsError(f"sequential must be a number, got {sequential!r}") from None
            if not (math.isfinite(tuning) and tuning > 0):
                raise ResultsError("sequential must be a positive number")
            options = Options(options.alpha, options.correction, tuning)
        return options


@dataclass(frozen=True)
class VariantExposure:
    name: str
    is_control: bool
    weight: float
    exposed: int
    expected_share: float | None
    observed_share: float | None


@dataclass(frozen=True)
class DailyPoint:
    day: date
    exposed: int
    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class MetricRow:
    variant: str
    is_control: bool
    exposed: int
    converted: int
    total: float
    mean: float | None
    comparison: analysis.Comparison | None


@dataclass
class Metric:
    event: str
    kind: str  # analysis.BINOMIAL or analysis.VALUE
    rows: list[MetricRow]
    daily: dict[str, list[DailyPoint]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.event}:{self.kind}"

    @property
    def label(self) -> str:
        if self.kind == analysis.BINOMIAL:
            return f"{self.event}: share of exposed contexts that converted"
        return f"{self.event}: mean value per exposed context"

    def best(self) -> MetricRow | None:
        """The treatment with the highest chance to beat control (None: nothing to compare)."""
        contenders = [
            r for r in self.rows if r.comparison and r.comparison.chance_to_win is not None
        ]
        if not contenders:
            return None
        return max(contenders, key=lambda r: (r.comparison and r.comparison.chance_to_win) or 0.0)

    def leader(self) -> str | None:
        """Who leads: the best treatment when it more likely beats control than not, else
        control (None: nothing to compare yet)."""
        best = self.best()
        if best is None or best.comparison is None:
            return None
        chance = best.comparison.chance_to_win or 0.0
        if chance > 0.5:
            return best.variant
        return next((r.variant for r in self.rows if r.is_control), None)


@dataclass
class Report:
    experiment: str
    phase: Phase | None
    phases: list[Phase]
    control: str
    options: Options
    variants: list[VariantExposure]
    srm_p_value: float | None
    metrics: list[Metric]
    days: list[date]
    #: The holdout against everyone else (None: no holdout covers the experiment and nobody
    #: was exposed in one this phase).
    holdout: holdout.HoldoutReport | None = None

    @property
    def srm_failed(self) -> bool:
        return self.srm_p_value is not None and self.srm_p_value < SRM_THRESHOLD

    @property
    def total_exposed(self) -> int:
        return sum(v.exposed for v in self.variants)

    def summary(self) -> list[dict[str, Any]]:
        """Per metric: who leads, how sure, in words and numbers (the page's first table)."""
        lines = []
        for metric in self.metrics:
            best = metric.best()
            comparison = best.comparison if best else None
            lines.append(
                {
                    "metric": metric.key,
                    "label": metric.label,
                    "leader": metric.leader(),
                    "best_treatment": best.variant if best else None,
                    "chance_to_win": comparison.chance_to_win if comparison else None,
                    "lift": comparison.lift if comparison else None,
                    "p_value": (comparison.adjusted_p_value if comparison else None),
                    "significant": (
                        comparison.significant(self.options.alpha) if comparison else False
                    ),
                    "verdict": _verdict(metric, self.control, self.options.alpha),
                }
            )
        return lines

    def as_dict(self) -> dict[str, Any]:
        """The JSON document (``/results.json``): every number the page shows."""
        return {
            "experiment": self.experiment,
            "phase": _phase_dict(self.phase),
            "phases": [_phase_dict(p) for p in self.phases],
            "control": self.control,
            "options": {
                "alpha": self.options.alpha,
                "correction": self.options.correction,
                "sequential_tuning": self.options.sequential_tuning,
            },
            "srm": {
                "p_value": self.srm_p_value,
                "threshold": SRM_THRESHOLD,
                "failed": self.srm_failed,
            },
            "variants": [v.__dict__ for v in self.variants],
            "holdout": self.holdout.as_dict() if self.holdout is not None else None,
            "summary": self.summary(),
            "metrics": [
                {
                    "metric": m.key,
                    "event": m.event,
                    "kind": m.kind,
                    "rows": [
                        {
                            **{k: v for k, v in r.__dict__.items() if k != "comparison"},
                            "comparison": r.comparison.__dict__ if r.comparison else None,
                        }
                        for r in m.rows
                    ],
                    "daily": {
                        variant: [
                            {
                                "day": p.day.isoformat(),
                                "exposed": p.exposed,
                                "mean": p.mean,
                                "low": p.low,
                                "high": p.high,
                            }
                            for p in points
                        ]
                        for variant, points in m.daily.items()
                    },
                }
                for m in self.metrics
            ],
        }


def _phase_dict(phase: Phase | None) -> dict[str, Any] | None:
    if phase is None:
        return None
    return {
        "number": phase.number,
        "started_at": _iso(phase.started_at),
        "ended_at": _iso(phase.ended_at),
        "weights": phase.weights,
        "reason": phase.reason,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _verdict(metric: Metric, control: str, alpha: float) -> str:
    best = metric.best()
    if best is None or best.comparison is None:
        return "Not enough data to compare with control yet."
    c = best.comparison
    chance = f"{c.chance_to_win:.0%}" if c.chance_to_win is not None else "an unknown"
    level = f"{1 - alpha:.0%}"
    if c.significant(alpha):
        direction = "better" if (c.lift or 0) > 0 else "worse"
        return (
            f"{best.variant} is {direction} than {control} "
            f"(significant at {level}; {chance} chance to beat {control})."
        )
    if metric.leader() == control:
        return (
            f"{control} leads: {best.variant} has {chance} chance to beat it, "
            f"no difference significant at {level}: keep collecting."
        )
    return (
        f"{best.variant} leads with {chance} chance to beat {control}, "
        f"not significant at {level}: keep collecting."
    )


def select_phase(
    experiment: Experiment, number: int | str | None
) -> tuple[Phase | None, list[Phase]]:
    """The requested phase (default: the current one, else the latest) and all phases."""
    phases = list(Phase.objects.filter(experiment=experiment).order_by("-number"))
    if number in (None, ""):
        current = next((p for p in phases if p.ended_at is None), None)
        return current or (phases[0] if phases else None), phases
    try:
        wanted = int(number)
    except (TypeError, ValueError):
        raise ResultsError(f"phase must be a number, got {number!r}") from None
    for phase in phases:
        if phase.number == wanted:
            return phase, phases
    raise ResultsError(f"{experiment.name} has no phase {wanted}")


def results_for(
    experiment: Experiment,
    phase: int | str | None = None,
    options: Options | None = None,
) -> Report:
    """The results of one phase of ``experiment`` (default: its current phase)."""
    options = options or Options()
    selected, phases = select_phase(experiment, phase)
    stored_name = settings.full_name(experiment.name)
    data, held = holdout.split(
        aggregate(stored_name, selected.number if selected is not None else None)
    )
    treatments = list(experiment.treatments.all())
    control = next((t.name for t in treatments if t.is_control), None) or (
        treatments[0].name if treatments else "control"
    )
    weights = _weights(selected, treatments)
    names = _variant_names(control, weights, data)
    variants = _exposures(names, control, weights, data)
    configured = [v for v in variants if v.weight > 0 or v.exposed > 0]
    srm = analysis.srm([v.exposed for v in configured], [v.weight for v in configured])
    return Report(
        experiment=experiment.name,
        phase=selected,
        phases=phases,
        control=control,
        options=options,
        variants=variants,
        srm_p_value=srm,
        metrics=_metrics(names, control, data, options),
        days=data.days,
        holdout=(
            holdout.compare(
                data, held, alpha=options.alpha, sequential_tuning=options.sequential_tuning
            )
            if _held_out(selected) or any(held.exposed.values())
            else None
        ),
    )


def _held_out(phase: Phase | None) -> bool:
    """A holdout covers the phase (its recorded population says so)."""
    population = phase.population if phase is not None else {}
    return bool(population.get("namespace_holdout") or population.get("global_holdout"))


def _weights(phase: Phase | None, treatments: list[Any]) -> dict[str, float]:
    source: Mapping[str, Any] = (
        phase.weights
        if phase is not None and phase.weights
        else {t.name: t.weight for t in treatments}
    )
    weights: dict[str, float] = {}
    for name, raw in source.items():
        try:
            value = float(Decimal(str(raw)))
        except (InvalidOperation, ValueError):
            continue
        weights[str(name)] = value if math.isfinite(value) and value > 0 else 0.0
    return weights


def _variant_names(control: str, weights: Mapping[str, float], data: Aggregates) -> list[str]:
    names = [control]
    for name in [*weights, *sorted(data.exposed)]:
        if name not in names:
            names.append(name)
    return names


def _exposures(
    names: list[str], control: str, weights: Mapping[str, float], data: Aggregates
) -> list[VariantExposure]:
    total_weight = sum(weights.values())
    total = sum(data.exposed.values())
    return [
        VariantExposure(
            name=name,
            is_control=name == control,
            weight=weights.get(name, 0.0),
            exposed=data.exposed.get(name, 0),
            expected_share=weights.get(name, 0.0) / total_weight if total_weight else None,
            observed_share=data.exposed.get(name, 0) / total if total else None,
        )
        for name in names
    ]


def _metrics(names: list[str], control: str, data: Aggregates, options: Options) -> list[Metric]:
    metrics = []
    for event in sorted(data.metrics):
        per_variant = data.metrics[event]
        kinds = [analysis.BINOMIAL]
        if any(t.valued for t in per_variant.values()):
            kinds.append(analysis.VALUE)
        for kind in kinds:
            metrics.append(_metric(event, kind, names, control, data, options))
    return metrics


def _metric(
    event: str,
    kind: str,
    names: list[str],
    control: str,
    data: Aggregates,
    options: Options,
) -> Metric:
    per_variant = data.metrics.get(event, {})

    def inputs(name: str) -> tuple[int, Totals]:
        return data.exposed.get(name, 0), per_variant.get(name, Totals())

    comparisons = analysis.compare(
        kind,
        inputs(control),
        {name: inputs(name) for name in names if name != control},
        alpha=options.alpha,
        correction=options.correction,
        sequential_tuning=options.sequential_tuning,
    )
    rows = []
    for name in names:
        n, totals = inputs(name)
        mean, _, _ = analysis.mean_interval(kind, n, totals, options.alpha)
        rows.append(
            MetricRow(
                variant=name,
                is_control=name == control,
                exposed=n,
                converted=min(totals.converted, n),
                total=totals.total,
                mean=mean,
                comparison=comparisons.get(name),
            )
        )
    return Metric(event, kind, rows, _daily(event, kind, names, data, options))


def _daily(
    event: str, kind: str, names: list[str], data: Aggregates, options: Options
) -> dict[str, list[DailyPoint]]:
    """Cumulative by exposure day: contexts exposed up to day d, with all their conversions."""
    series: dict[str, list[DailyPoint]] = {}
    days = data.days
    for name in names:
        exposed_by_day = data.exposed_daily.get(name, {})
        totals_by_day = data.metrics_daily.get(event, {}).get(name, {})
        n = 0
        running = Totals()
        points = []
        for day in days:
            n += exposed_by_day.get(day, 0)
            running = running + totals_by_day.get(day, Totals())
            mean, low, high = analysis.mean_interval(kind, n, running, options.alpha)
            points.append(DailyPoint(day, n, mean, low, high))
        series[name] = points
    return series
