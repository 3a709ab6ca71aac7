from __future__ import annotations

from django.urls import path

from tests.chaos import views

urlpatterns = [path("track/<slug:name>/", views.track)]
