from __future__ import annotations

from django.urls import path

from tests.asgi import views

urlpatterns = [
    path("async/", views.async_page),
    path("sync/", views.sync_page),
    path("async/order/", views.async_order),
    path("sync/order/", views.sync_order),
]
