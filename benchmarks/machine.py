"""What the numbers ran on: CPU, cores, Python, Django, Redis and peer versions."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe(redis_client: Any | None) -> list[tuple[str, str]]:
    redis_version = "unreachable"
    if redis_client is not None:
        try:
            redis_version = str(redis_client.info("server")["redis_version"])
        except Exception as exc:  # the report still says why
            redis_version = f"unreachable ({type(exc).__name__})"
    return [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", sys.version.split()[0] + f" ({platform.python_implementation()})"),
        ("Django", _version("django")),
        ("Redis server", redis_version),
        (
            "redis-py / django-redis / hiredis",
            f"{_version('redis')} / {_version('django-redis')} / {_version('hiredis')}",
        ),
        ("growthbook", _version("growthbook")),
        ("django-waffle", _version("django-waffle")),
        ("celery / gunicorn", f"{_version('celery')} / {_version('gunicorn')}"),
        ("load average at the end (1/5/15 min)", _load()),
    ]


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (shared machine: other work runs beside)"
