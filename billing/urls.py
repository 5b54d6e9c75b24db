"""Billing's URLs, mounted at the site root: the staff invoice pages (``billing:``, under
/billing/) and Configurations > Billing (``billing-config:``, under /configurations/billing/)."""

from django.urls import include, path

from billing import exports, views

invoice_patterns = [
    path("invoices/", views.InvoiceListView.as_view(), name="invoices"),
    path("invoices/export.csv", exports.InvoiceExportView.as_view(), name="invoices-export"),
    path("invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice"),
    path("invoices/<int:pk>/image/", views.InvoiceImageView.as_view(), name="invoice-image"),
    path("invoices/<int:pk>/pdf/", views.InvoicePdfView.as_view(), name="invoice-pdf"),
    path("invoices/<int:pk>/download/", views.InvoiceDownloadView.as_view(), name="invoice-download"),
    path("invoices/<int:pk>/comments/", views.InvoiceCommentReplyView.as_view(), name="invoice-comment"),
    path("invoices/<int:pk>/image/refresh/", views.InvoiceImageRefreshView.as_view(), name="invoice-image-refresh"),
]

configuration_patterns = [
    path("invoice-image-data/", views.InvoiceImageDataView.as_view(), name="image-sources"),
]

urlpatterns = [
    path("billing/", include((invoice_patterns, "billing"))),
    path("configurations/billing/", include((configuration_patterns, "billing-config"))),
]
