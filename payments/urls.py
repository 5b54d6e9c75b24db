"""Every payments URL, under one include: the staff pages and the webhook under /payments/,
the client's pages under /portal/ beside the other client pages."""

from django.urls import include, path

from payments import views, webhooks

staff_patterns = (
    [
        path("", views.PaymentListView.as_view(), name="list"),
        path("<int:pk>/", views.PaymentDetailView.as_view(), name="detail"),
        path("<int:pk>/refund/", views.PaymentRefundView.as_view(), name="refund"),
        path("<int:pk>/refresh/", views.PaymentRefreshView.as_view(), name="refresh"),
        path("webhooks/stripe/", webhooks.stripe_webhook, name="stripe-webhook"),
        path("reconciliation/", include("payments.reconciliation")),
    ],
    "payments",
)

urlpatterns = [
    path("payments/", include(staff_patterns)),
    path("portal/", include("payments.client_urls")),
]
