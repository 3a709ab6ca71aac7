"""``path("experiments/", include("django_experiments.urls"))``.

* ``assignments/?experiments=a,b``: client API (django_experiments.api).
* ``events/``: the browser's events (django_experiments.api.events).
* ``r/<experiment>:<key>?<url>``: redirect tracking (django_experiments.views).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from django_experiments import views
from django_experiments.api.urls import urlpatterns as api_urlpatterns

app_name = "django_experiments"

urlpatterns: list[URLPattern | URLResolver] = [
    *api_urlpatterns,
    path("r/<str:experiment_id>", views.redirect, name="redirect"),
]
