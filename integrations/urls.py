from django.urls import path

from integrations import views

app_name = "integrations"
urlpatterns = [
    path("", views.IntegrationListView.as_view(), name="list"),
    path("<slug:provider_key>/settings/", views.IntegrationSettingsView.as_view(), name="settings"),
    path("<slug:provider_key>/test/", views.IntegrationTestView.as_view(), name="test"),
    path("<slug:provider_key>/delete/", views.IntegrationDeleteView.as_view(), name="delete"),
]
