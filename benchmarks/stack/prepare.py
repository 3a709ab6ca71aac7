"""Run in a subprocess with the stack settings: migrate, create the contenders' data.

This project's 5 experiments (50/50), waffle's 5 percent flags (50 %), and the demo table the
realistic page queries. Prints one JSON line: ``{"ok": bool, "reason": str}``. The harness
then probes each running server (benchmarks/bench_stack.py), so a broken contender is reported
before any measurement.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.stack.settings")
    try:
        _prepare()
    except Exception as exc:  # reported as "not run: <reason>" by the harness
        print(json.dumps({"ok": False, "reason": f"prepare raised {type(exc).__name__}: {exc}"}))
        return 0
    print(json.dumps({"ok": True, "reason": ""}))
    return 0


def _prepare() -> None:
    import django

    django.setup()
    from waffle.models import Flag

    from benchmarks import fixtures
    from benchmarks.stack.models import Article
    from benchmarks.stack.views import ARTICLES, EXPERIMENTS
    from django_experiments.models import Experiment

    fixtures.migrate()
    for name in EXPERIMENTS:
        if not Experiment.objects.filter(name=name).exists():
            fixtures.create_experiment(name, [("control", 50), ("candidate", 50)])
        # The same split as a waffle percent flag: on for 50 % of new visitors.
        Flag.objects.update_or_create(name=name, defaults={"percent": 50, "everyone": None})
    if not Article.objects.exists():
        Article.objects.bulk_create(
            Article(title=f"Article {i}", published=i % 5 != 0, featured=i == 7)
            for i in range(1, ARTICLES + 1)
        )
    fixtures.warm()


if __name__ == "__main__":
    sys.exit(main())
