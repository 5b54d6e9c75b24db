from django.urls import include, path

from integrations import views
from integrations.registry import all_providers

app_name = "integrations"
urlpatterns = [
    path("", views.IntegrationListView.as_view(), name="list"),
    path("sync-history/", views.SyncHistoryView.as_view(), name="sync-history"),
    path("sync-history/<int:pk>/", views.SyncRunDetailView.as_view(), name="sync-run"),
    path("<slug:provider_key>/card/", views.IntegrationCardView.as_view(), name="card"),
    path("<slug:provider_key>/settings/", views.IntegrationSettingsView.as_view(), name="settings"),
    path("<slug:provider_key>/test/", views.IntegrationTestView.as_view(), name="test"),
    path("<slug:provider_key>/sync/", views.IntegrationSyncNowView.as_view(), name="sync"),
    path("<slug:provider_key>/reconcile/", views.IntegrationReconcileView.as_view(), name="reconcile"),
    path("<slug:provider_key>/delete/", views.IntegrationDeleteView.as_view(), name="delete"),
]
# A provider's own pages (IntegrationProvider.urlpatterns), after the card's so they cannot shadow
# them: integrations/<key>/..., named integrations:<key>:<name>.
urlpatterns += [
    path(f"{provider.key}/", include((patterns, provider.key)))
    for provider in all_providers()
    if (patterns := provider.urlpatterns())
]
