"""System check E030: CONVERSION_WINDOWS."""

from __future__ import annotations

from typing import Any

import pytest

from django_experiments.checks import check_settings


def ids(settings: Any, windows: Any) -> list[str]:
    settings.DJANGO_EXPERIMENTS = {"CONVERSION_WINDOWS": windows}
    return [m.id for m in check_settings()]


@pytest.mark.parametrize(
    "windows", [{}, {"cta": 24}, {"*": 0.5, "cta": None}, {"cta": 1, "checkout": 168.0}]
)
def test_good_windows(settings: Any, windows: Any) -> None:
    assert ids(settings, windows) == []


@pytest.mark.parametrize(
    "windows",
    [
        {"cta": 0},
        {"cta": -1},
        {"cta": float("inf")},
        {"cta": float("nan")},
        {"cta": "24"},
        {"cta": True},
        {1: 24},
    ],
)
def test_e030_bad_windows(settings: Any, windows: Any) -> None:
    assert ids(settings, windows) == ["django_experiments.E030"]


def test_e003_not_a_dict(settings: Any) -> None:
    assert ids(settings, [24]) == ["django_experiments.E003"]
