"""Mounted at integrations/xero/ in the namespace integrations:xero (see XeroProvider.urlpatterns)."""

from django.urls import path

from providers.xero import views

urlpatterns = [
    path("connect/", views.ConnectView.as_view(), name="connect"),
    path("callback/", views.CallbackView.as_view(), name="callback"),
    path("organisation/", views.ChooseTenantView.as_view(), name="choose"),
    path("unmatched/", views.UnmatchedView.as_view(), name="unmatched"),
    path("unmatched/link/", views.LinkView.as_view(), name="link"),
    path("unmatched/<int:pk>/unlink/", views.UnlinkView.as_view(), name="unlink"),
]
