from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("invoices/", views.InvoiceListView.as_view(), name="invoices"),
    path("invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice"),
    path("invoices/<int:pk>/image/", views.InvoiceImageView.as_view(), name="invoice-image"),
    path("invoices/<int:pk>/pdf/", views.InvoicePdfView.as_view(), name="invoice-pdf"),
    path("invoices/<int:pk>/download/", views.InvoiceDownloadView.as_view(), name="invoice-download"),
    path("invoices/<int:pk>/image/refresh/", views.InvoiceImageRefreshView.as_view(), name="invoice-image-refresh"),
]
