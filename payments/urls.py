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
        path("<int:pk>/receipt/pdf/", views.PaymentReceiptPdfView.as_view(), name="receipt-pdf"),
        path("calendar/", views.PaymentsCalendarView.as_view(), name="calendar"),
        path("approvals/", views.AutopayApprovalsView.as_view(), name="approvals"),
        path("approvals/<int:pk>/", views.AutopayDecideView.as_view(), name="approval-decide"),
        path("webhooks/stripe/", webhooks.stripe_webhook, name="stripe-webhook"),
        path("", include("payments.posting_urls")),
        path("reconciliation/", include("payments.reconciliation")),
    ],
    "payments",
)

# Organizations > an organization > Autopay: staff pages of the payments app, under the
# organization's address.
organization_patterns = (
    [
        path("", views.AutopayRulesView.as_view(), name="rules"),
        path("<int:rule_pk>/", views.AutopayRuleView.as_view(), name="rule"),
        path("<int:rule_pk>/move/", views.AutopayRuleMoveView.as_view(), name="move"),
        path("<int:rule_pk>/delete/", views.AutopayRuleDeleteView.as_view(), name="delete"),
    ],
    "organization-autopay",
)

urlpatterns = [
    path("payments/", include(staff_patterns)),
    path("organizations/<int:pk>/autopay/", include(organization_patterns)),
    path("portal/", include("payments.client_urls")),
]
