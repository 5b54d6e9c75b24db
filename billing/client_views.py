"""The client portal: a client contact sees their own organization's invoices only.

Every lookup is scoped by ``request.user.organization``; another organization's invoice
answers 404 whatever id is tried.
"""

from django.core.paginator import Paginator
from django.http import QueryDict
from django.template.loader import render_to_string
from django.views.generic import TemplateView

from accounts.permissions import ClientContactRequiredMixin
from billing import list_cache
from billing.forms import ClientInvoiceFilterForm
from billing.invoice_views import InvoiceCommentBase, InvoiceDetailBase, InvoiceImagePanelBase, InvoicePdfBase
from billing.models import Invoice
from billing.selectors import INVOICE_STATES, client_invoice_get, client_invoice_list


class ClientInvoiceMixin(ClientContactRequiredMixin):
    url_namespace = "client"

    def get_invoice(self, pk: int) -> Invoice:
        return client_invoice_get(organization_id=self.request.user.organization_id, pk=pk)


class ClientInvoiceListView(ClientContactRequiredMixin, TemplateView):
    """The organization's invoices. Browsing (no search) is rendered once per organization,
    filter and page, then served from the cache (billing.list_cache); searches, deep pages
    and unknown parameters are rendered each time, so no request can fill the cache with
    lists nobody else will see."""

    template_name = "client/invoices.html"
    paginate_by = 25
    cached_pages = 10  # of each filter: where people look
    params = {"q", "state", "page"}

    def get_context_data(self, **kwargs):
        organization_id = self.request.user.organization_id
        key = self.cache_key(self.request.GET)
        if key is None:
            invoice_list = self.render_invoice_list(organization_id, self.request.GET)
        else:
            invoice_list = list_cache.rendered(
                "client-invoices", organization_id, key, lambda: self.render_invoice_list(organization_id, _query(*key))
            )
        # A SafeString from render_to_string (pickled as one): were it ever a plain str, the
        # page would show escaped HTML, never run it.
        return super().get_context_data(invoice_list=invoice_list, **kwargs)

    def cache_key(self, query: QueryDict) -> tuple[str, int] | None:
        """(state, page) of a plain browse, or None when the request is not worth caching."""
        if not query.keys() <= self.params or query.get("q", "").strip():
            return None
        state, page = query.get("state", ""), query.get("page", "1")
        if state and state not in INVOICE_STATES:
            return None
        if not page.isdigit() or not 1 <= int(page) <= self.cached_pages:
            return None
        return state, int(page)

    def render_invoice_list(self, organization_id: int | None, query: QueryDict) -> str:
        filter_form = ClientInvoiceFilterForm(query or None)
        data = filter_form.cleaned_data if filter_form.is_valid() else {}
        invoices = client_invoice_list(
            organization_id=organization_id,
            search=(data.get("q") or "").strip(),
            state=data.get("state") or "",
        )
        # A page number out of range (a stale link, a hand-edited URL) shows the nearest page.
        page = Paginator(invoices, self.paginate_by).get_page(query.get("page"))
        others = query.copy()
        others.pop("page", None)
        context = {
            "organization": self.request.user.organization,
            "filter_form": filter_form,
            "invoices": page.object_list,
            "page_obj": page,
            "is_paginated": page.has_other_pages(),
            "query_string": others.urlencode(),
            "filtered": bool(others.get("q") or others.get("state")),
        }
        return render_to_string("client/_invoice_list.html", context)


def _query(state: str, page: int) -> QueryDict:
    """The parameters of a plain browse, as its links will carry them."""
    query = QueryDict(mutable=True)
    if state:
        query["state"] = state
    if page > 1:
        query["page"] = str(page)
    return query


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
