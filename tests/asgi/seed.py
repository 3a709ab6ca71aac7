"""``python -m tests.asgi.seed``: migrate the server's SQLite file and create experiments."""

from __future__ import annotations

import os
import sys


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.asgi.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from django_experiments.models import Experiment, Treatment
    from tests.asgi.views import EXPERIMENTS

    call_command("migrate", verbosity=0)
    for name in EXPERIMENTS:
        experiment = Experiment.objects.create(name=name, status="running")
        for order, treatment in enumerate(("control", "candidate")):
            Treatment.objects.create(
                experiment=experiment,
                name=treatment,
                weight=1,
                is_control=order == 0,
                order=order,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
