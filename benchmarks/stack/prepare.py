"""Run in a subprocess with the stack settings: migrate, create the 5 experiments, probe.

Prints one JSON line: ``{"ok": bool, "reason": str}``. The probe goes through Django's test
client (in process, no network), so a missing or broken middleware is reported before any
server is started.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.stack.settings")
    import django

    django.setup()
    from django.test import Client

    from benchmarks import fixtures
    from benchmarks.stack.views import EXPERIMENTS
    from django_experiments.models import Experiment

    fixtures.migrate()
    for name in EXPERIMENTS:
        if not Experiment.objects.filter(name=name).exists():
            fixtures.create_experiment(name, [("control", 50), ("candidate", 50)])
    fixtures.warm()
    result: dict[str, object] = {"ok": True, "reason": ""}
    try:
        response = Client().get("/bench/experiments/")
        if response.status_code != 200:
            result = {"ok": False, "reason": f"experiments page answered {response.status_code}"}
        elif response.get("X-Bench-Scope") != "1":
            result = {"ok": False, "reason": "middleware binds no experiment scope"}
        elif not response.cookies:
            result = {"ok": False, "reason": "middleware set no anonymous actor cookie"}
        else:
            # A returning visitor for wrk: this visitor's cookie, assignments already stored.
            [morsel] = response.cookies.values()
            result["cookie"] = f"{morsel.key}={morsel.value}"
        plain = Client().get("/bench/plain/")
        if result["ok"] and plain.status_code != 200:
            result = {"ok": False, "reason": f"plain page answered {plain.status_code}"}
    except Exception as exc:  # reported as "not run: <reason>" by the harness
        result = {"ok": False, "reason": f"probe raised {type(exc).__name__}: {exc}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
