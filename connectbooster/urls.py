from django.urls import include, path

from accounts.views import HomeView
from connectbooster.health import healthz

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("integrations/", include("integrations.urls")),
    path("organizations/", include("organizations.urls")),
    path("billing/", include("billing.urls")),
    path("configurations/billing/", include("billing.config_urls")),
    path("configurations/notifications/", include("notifications.urls")),
    path("portal/", include("billing.client_urls")),
    path("", include("payments.urls")),  # /payments/... (staff, webhook) and /portal/... (client)
]
