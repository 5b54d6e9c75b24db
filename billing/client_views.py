from django.views.generic import TemplateView

from accounts.permissions import ClientContactRequiredMixin


class ClientInvoiceListView(ClientContactRequiredMixin, TemplateView):
    template_name = "client/invoices.html"
