"""The client portal: a client contact sees their own organization's invoices only.

Every lookup is scoped by ``request.user.organization``; another organization's invoice
answers 404 whatever id is tried.
"""

from django.views.generic import ListView

from accounts.permissions import ClientContactRequiredMixin
from billing.forms import ClientInvoiceFilterForm
from billing.invoice_views import InvoiceCommentBase, InvoiceDetailBase, InvoiceImagePanelBase, InvoicePdfBase
from billing.models import Invoice
from billing.selectors import client_invoice_get, client_invoice_list


class ClientInvoiceMixin(ClientContactRequiredMixin):
    url_namespace = "client"

    def get_invoice(self, pk: int) -> Invoice:
        return client_invoice_get(organization_id=self.request.user.organization_id, pk=pk)


class ClientInvoiceListView(ClientContactRequiredMixin, ListView):
    template_name = "client/invoices.html"
    paginate_by = 25
    context_object_name = "invoices"

    def get_queryset(self):
        self.filter_form = ClientInvoiceFilterForm(self.request.GET or None)
        data = self.filter_form.cleaned_data if self.filter_form.is_valid() else {}
        return client_invoice_list(
            organization_id=self.request.user.organization_id,
            search=(data.get("q") or "").strip(),
            state=data.get("state") or "",
        )

    def paginate_queryset(self, queryset, page_size):
        # A page number out of range (a stale link, a hand-edited URL) shows the nearest page.
        paginator = self.get_paginator(queryset, page_size)
        page = paginator.get_page(self.request.GET.get("page"))
        return paginator, page, page.object_list, page.has_other_pages()

    def get_context_data(self, **kwargs):
        params = self.request.GET.copy()
        params.pop("page", None)
        return super().get_context_data(
            filter_form=self.filter_form,
            query_string=params.urlencode(),
            filtered=bool(params.get("q") or params.get("state")),
            **kwargs,
        )


class ClientInvoiceDetailView(ClientInvoiceMixin, InvoiceDetailBase):
    template_name = "client/invoice_detail.html"
    can_comment = True


class ClientInvoiceImageView(ClientInvoiceMixin, InvoiceImagePanelBase):
    pass


class ClientInvoicePdfView(ClientInvoiceMixin, InvoicePdfBase):
    pass


class ClientInvoiceDownloadView(ClientInvoiceMixin, InvoicePdfBase):
    as_attachment = True


class ClientInvoiceCommentView(ClientInvoiceMixin, InvoiceCommentBase):
    detail_view = ClientInvoiceDetailView
