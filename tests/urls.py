from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("experiments/", include("django_experiments.urls")),
    path("web/", include("tests.web.urls")),
    path("chaos/", include("tests.chaos.urls")),
    path("api/glex/", include("django_experiments.api.management_urls")),
]
