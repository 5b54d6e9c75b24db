from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("invoices/", views.InvoiceListView.as_view(), name="invoices"),
]
