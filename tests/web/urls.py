from __future__ import annotations

from django.urls import path

from tests.web import views

urlpatterns = [
    path("page/", views.page),
    path("page/<slug:name>/", views.page),
    path("project-only/", views.project_only),
    path("explicit-anonymous/", views.explicit_anonymous),
    path("explicit-variant/", views.explicit_variant),
    path("memo/", views.memo),
    path("login/", views.login_view),
    path("async/", views.async_page),
    path("async-login/", views.async_login),
    path("template/<slug:which>/", views.template_page),
    path("raises/", views.raises),
    path("raises-own-scope/", views.raises_with_own_scope),
    path("streaming/", views.streaming),
    path("readme/", views.readme),
]
