from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class DjangoExperimentsConfig(AppConfig):
    name = "django_experiments"
    verbose_name = "Experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_experiments import checks, signals

        checks.register()
        signals.connect()
        from django_experiments import login  # noqa: F401 - connects the login migration

        # Like the admin: every installed app's experiments.py registers its classes.
        autodiscover_modules("experiments")
        from django_experiments import class_checks  # noqa: F401 - registers the class check
