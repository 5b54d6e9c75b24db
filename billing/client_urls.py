from django.urls import path

from accounts.views import ProfileView
from billing import client_views

app_name = "client"
urlpatterns = [
    path("invoices/", client_views.ClientInvoiceListView.as_view(), name="invoices"),
    path("invoices/<int:pk>/", client_views.ClientInvoiceDetailView.as_view(), name="invoice"),
    path("invoices/<int:pk>/image/", client_views.ClientInvoiceImageView.as_view(), name="invoice-image"),
    path("invoices/<int:pk>/pdf/", client_views.ClientInvoicePdfView.as_view(), name="invoice-pdf"),
    path("invoices/<int:pk>/download/", client_views.ClientInvoiceDownloadView.as_view(), name="invoice-download"),
    path("invoices/<int:pk>/comments/", client_views.ClientInvoiceCommentView.as_view(), name="invoice-comment"),
    path("profile/", ProfileView.as_view(), name="profile"),
]
