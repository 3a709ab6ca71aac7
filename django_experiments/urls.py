"""``path("experiments/", include("django_experiments.urls"))``.

* ``assignments/?experiments=a,b``: client API (django_experiments.api).
* ``r/<experiment>:<key>?<url>``: redirect tracking (django_experiments.views).
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from django.urls import URLPattern, URLResolver, path

from django_experiments import views
from django_experiments.api.urls import urlpatterns as api_urlpatterns

app_name = "django_experiments"

urlpatterns: list[URLPattern | URLResolver] = [
    *api_urlpatterns,
    path("r/<str:experiment_id>", views.redirect, name="redirect"),
]

# tracking endpoints are added by django_experiments.tracking.urls
# (found by name, so an ImportError inside that module still surfaces instead of hiding it).
if find_spec("django_experiments.tracking.urls") is not None:
    urlpatterns += import_module("django_experiments.tracking.urls").urlpatterns
