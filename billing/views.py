from django.contrib import messages
from django.shortcuts import redirect
from django.views import View
from django.views.generic import ListView

from accounts.permissions import StaffRequiredMixin
from billing.forms import InvoiceFilterForm
from billing.images import invoice_image_cache_clear
from billing.invoice_views import InvoiceDetailBase, InvoiceImagePanelBase, InvoicePdfBase
from billing.models import Invoice
from billing.selectors import invoice_list, staff_invoice_get


class InvoiceListView(StaffRequiredMixin, ListView):
    template_name = "billing/invoice_list.html"
    paginate_by = 50

    def get_queryset(self):
        self.filter_form = InvoiceFilterForm(self.request.GET or None)
        if self.filter_form.is_bound and not self.filter_form.is_valid():
            return Invoice.objects.none()
        data = self.filter_form.cleaned_data if self.filter_form.is_bound else {}
        organization = data.get("organization")
        return invoice_list(
            search=data.get("q", ""),
            state=data.get("state", ""),
            organization_id=organization.pk if organization else None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )

    def get_context_data(self, **kwargs):
        params = self.request.GET.copy()
        params.pop("page", None)
        return super().get_context_data(
            filter_form=self.filter_form, query_string=params.urlencode(), link_invoices=True, **kwargs
        )


class StaffInvoiceMixin(StaffRequiredMixin):
    url_namespace = "billing"

    def get_invoice(self, pk: int) -> Invoice:
        return staff_invoice_get(pk=pk)


class InvoiceDetailView(StaffInvoiceMixin, InvoiceDetailBase):
    template_name = "billing/invoice_detail.html"


class InvoiceImageView(StaffInvoiceMixin, InvoiceImagePanelBase):
    show_skipped = True


class InvoicePdfView(StaffInvoiceMixin, InvoicePdfBase):
    pass


class InvoiceDownloadView(StaffInvoiceMixin, InvoicePdfBase):
    as_attachment = True


class InvoiceImageRefreshView(StaffInvoiceMixin, View):
    """Forget the cached image so the next view asks the sources again."""

    def post(self, request, pk: int):
        invoice = self.get_invoice(pk)
        invoice_image_cache_clear(invoice)
        messages.success(request, f"The image of invoice {invoice.number} will be fetched again.")
        return redirect("billing:invoice", pk=invoice.pk)
