from django.contrib import admin
from django.urls import include, path

from accounts.views import HomeView
from connectbooster.health import healthz, readyz

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),  # Master Admins only, read-only (accounts.admin_site)
    path("accounts/", include("accounts.urls")),
    path("integrations/", include("integrations.urls")),
    path("organizations/", include("organizations.urls")),
    # /billing/ (staff invoice pages) and /configurations/billing/.
    path("", include("billing.urls")),
    path("configurations/notifications/", include("notifications.urls")),
    # /portal/ (the client's pages) and /accounts/ (invitations, access requests).
    path("", include("portal.urls")),
    path("", include("payments.urls")),  # /payments/... (staff, webhook) and /portal/... (client payments)
]
