"""The client portal: a client contact sees their own organization's invoices only.

Every lookup is scoped by ``request.user.organization``; another organization's invoice
answers 404 whatever id is tried.
"""

from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.views.generic import TemplateView

from accounts.permissions import ClientContactRequiredMixin
from billing import list_cache
from billing.forms import ClientInvoiceFilterForm
from billing.invoice_views import InvoiceCommentBase, InvoiceDetailBase, InvoiceImagePanelBase, InvoicePdfBase
from billing.models import Invoice
from billing.selectors import client_invoice_get, client_invoice_list


class ClientInvoiceMixin(ClientContactRequiredMixin):
    url_namespace = "client"

    def get_invoice(self, pk: int) -> Invoice:
        return client_invoice_get(organization_id=self.request.user.organization_id, pk=pk)


class ClientInvoiceListView(ClientContactRequiredMixin, TemplateView):
    """The organization's invoices. The list is rendered once per organization, filters and
    data version and then served from the cache (billing.list_cache)."""

    template_name = "client/invoices.html"
    paginate_by = 25

    def get_context_data(self, **kwargs):
        organization_id = self.request.user.organization_id
        # The list is a function of these alone (and of the data and the day, in the key).
        params = tuple(sorted(self.request.GET.lists()))
        invoice_list = list_cache.rendered(
            "client-invoices", organization_id, params, lambda: self.render_invoice_list(organization_id)
        )
        # A SafeString from render_to_string (pickled as one): were it ever a plain str, the
        # page would show escaped HTML, never run it.
        return super().get_context_data(invoice_list=invoice_list, **kwargs)

    def render_invoice_list(self, organization_id: int | None) -> str:
        filter_form = ClientInvoiceFilterForm(self.request.GET or None)
        data = filter_form.cleaned_data if filter_form.is_valid() else {}
        invoices = client_invoice_list(
            organization_id=organization_id,
            search=(data.get("q") or "").strip(),
            state=data.get("state") or "",
        )
        # A page number out of range (a stale link, a hand-edited URL) shows the nearest page.
        page = Paginator(invoices, self.paginate_by).get_page(self.request.GET.get("page"))
        params = self.request.GET.copy()
        params.pop("page", None)
        context = {
            "organization": self.request.user.organization,
            "filter_form": filter_form,
            "invoices": page.object_list,
            "page_obj": page,
            "is_paginated": page.has_other_pages(),
            "query_string": params.urlencode(),
            "filtered": bool(params.get("q") or params.get("state")),
        }
        return render_to_string("client/_invoice_list.html", context)


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
