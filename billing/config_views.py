from django.views.generic import TemplateView

from accounts.permissions import StaffRequiredMixin


class InvoiceImageDataView(StaffRequiredMixin, TemplateView):
    template_name = "billing/image_sources.html"
