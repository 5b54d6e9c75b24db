from django.urls import path

from payments import client_views

app_name = "client-payments"
urlpatterns = [
    path("pay/", client_views.PayView.as_view(), name="pay"),
    path("payments/", client_views.PaymentHistoryView.as_view(), name="payments"),
    path("payments/<int:pk>/", client_views.PaymentStatusView.as_view(), name="payment"),
    path("payments/<int:pk>/status/", client_views.PaymentStatusPanelView.as_view(), name="payment-status"),
    path("payments/<int:pk>/authenticated/", client_views.PaymentAuthenticatedView.as_view(), name="authenticated"),
    path("payments/<int:pk>/receipt/", client_views.PaymentReceiptView.as_view(), name="receipt"),
    path("payments/<int:pk>/receipt/pdf/", client_views.PaymentReceiptPdfView.as_view(), name="receipt-pdf"),
    path("payment-methods/", client_views.PaymentMethodsView.as_view(), name="methods"),
    path("payment-methods/setup/", client_views.MethodSetupView.as_view(), name="method-setup"),
    path("payment-methods/<int:pk>/default/", client_views.MethodDefaultView.as_view(), name="method-default"),
    path("payment-methods/<int:pk>/remove/", client_views.MethodRemoveView.as_view(), name="method-remove"),
    path("autopay/", client_views.AutopayView.as_view(), name="autopay"),
    path("autopay/<int:pk>/", client_views.AutopayRuleView.as_view(), name="autopay-rule"),
    path("autopay/<int:pk>/move/", client_views.AutopayRuleMoveView.as_view(), name="autopay-move"),
    path("autopay/<int:pk>/delete/", client_views.AutopayRuleDeleteView.as_view(), name="autopay-delete"),
]
