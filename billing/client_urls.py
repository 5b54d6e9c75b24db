from django.urls import path

from accounts.views import ProfileView
from billing import client_views

app_name = "client"
urlpatterns = [
    path("invoices/", client_views.ClientInvoiceListView.as_view(), name="invoices"),
    path("profile/", ProfileView.as_view(), name="profile"),
]
