from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from example_project.demo import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("pricing/", views.pricing, name="pricing"),
    path("cta/", views.cta_clicked, name="cta"),
    path("headline/", views.headline, name="headline"),
    path("results/", views.results, name="results"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Browsers ask every page's host for /favicon.ico (the admin's pages name no icon).
    path("favicon.ico", RedirectView.as_view(url=static("demo/favicon.svg"), permanent=True)),
    path("experiments/", include("django_experiments.urls")),
    path("api/", include("django_experiments.api.management_urls")),
]
