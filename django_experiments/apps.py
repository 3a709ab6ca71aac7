from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class DjangoExperimentsConfig(AppConfig):
    name = "django_experiments"
    verbose_name = "Experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_experiments import checks, signals, wiring

        checks.register()
        signals.connect()
        # The engine reports through hooks; this is where the layers above it subscribe.
        wiring.connect()
        # Like the admin: every installed app's experiments.py registers its classes.
        autodiscover_modules("experiments")
        from django_experiments import (
            class_checks,  # noqa: F401 - registers the class check
            namespace_checks,  # noqa: F401 - registers E019
        )
