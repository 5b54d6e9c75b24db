from django.urls import path

from billing import config_views

app_name = "billing-config"
urlpatterns = [
    path("invoice-image-data/", config_views.InvoiceImageDataView.as_view(), name="image-sources"),
]
