"""``path("api/experiments/", include("django_experiments.api.management_urls"))``.

The management API for scripts and CI (docs/api.md): experiments and their treatments, the
status actions, weight changes, phases, results, and its own OpenAPI schema at ``schema/``.
Kept apart from ``django_experiments.urls`` (the browser-facing endpoints) so a project mounts
it only where it wants it, behind its own authentication.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from django_experiments.api.management_views import ExperimentViewSet, TreatmentViewSet
from django_experiments.api.schema import ManagementSchemaView

app_name = "django_experiments_management"

router = SimpleRouter()
router.register("experiments", ExperimentViewSet, basename="experiment")

treatments = TreatmentViewSet.as_view({"get": "list", "post": "create"})
treatment = TreatmentViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("experiments/<slug:experiment>/treatments/", treatments, name="treatment-list"),
    path(
        "experiments/<slug:experiment>/treatments/<slug:name>/",
        treatment,
        name="treatment-detail",
    ),
    path("schema/", ManagementSchemaView.as_view(), name="schema"),
]
