"""Billing's pages: the staff invoice pages and Configurations > Billing.

The invoice page, its image panel, PDF and download are built on bases shared with the
client portal (portal.views): subclasses say how an invoice is found (``get_invoice``):
staff see any invoice, a client contact only their organization's (404 for anything else).
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import ListView

from accounts.permissions import StaffRequiredMixin
from billing.balances import balance_disagreement
from billing.forms import InvoiceFilterForm
from billing.images import invoice_image_cache_clear, resolve_invoice_image
from billing.models import Invoice
from billing.selectors import image_source_config, invoice_comments, invoice_lines, invoice_list, staff_invoice_get
from billing.services import image_sources_save
from core.pagination import NearestPageMixin

# --- shared by staff and client invoice pages ----------------------------------------------------


class InvoiceLookupMixin:
    url_namespace: str

    def get_invoice(self, pk: int) -> Invoice:
        raise NotImplementedError

    def urls(self, invoice: Invoice) -> dict[str, str]:
        ns = self.url_namespace
        return {
            name: reverse(f"{ns}:invoice-{name}" if name != "page" else f"{ns}:invoice", args=[invoice.pk])
            for name in ("page", "image", "pdf", "download")
        }


class InvoiceDetailBase(InvoiceLookupMixin, View):
    template_name: str
    # The form under the comments, for those who may comment (client contacts); None: no form.
    comment_form_class: type[forms.Form] | None = None

    def get(self, request, pk: int, comment_form=None, status: int = 200):
        invoice = self.get_invoice(pk)
        lines = invoice_lines(invoice)
        context = {
            "invoice": invoice,
            "lines": lines,
            "subtotal": invoice.total - invoice.tax,
            "comments": invoice_comments(invoice),
            "comment_form": comment_form or (self.comment_form_class() if self.comment_form_class else None),
            "urls": self.urls(invoice),
            **self.extra_context(invoice),
        }
        return render(request, self.template_name, context, status=status)

    def extra_context(self, invoice: Invoice) -> dict:
        return {}


class InvoiceImagePanelBase(InvoiceLookupMixin, View):
    """The image panel (loaded by htmx after the page): the inline PDF and, for staff, which
    source served it and why the sources before it did not (clients are not told about
    the MSP's systems)."""

    template_name = "billing/_invoice_image.html"
    show_source = False
    show_skipped = False

    def get(self, request, pk: int):
        invoice = self.get_invoice(pk)
        image = resolve_invoice_image(invoice)
        return render(
            request,
            self.template_name,
            {
                "invoice": invoice,
                "image": image,
                "urls": self.urls(invoice),
                "show_source": self.show_source,
                "show_skipped": self.show_skipped,
            },
        )


class InvoicePdfBase(InvoiceLookupMixin, View):
    as_attachment = False

    def get(self, request, pk: int):
        invoice = self.get_invoice(pk)
        image = resolve_invoice_image(invoice)
        if image.pdf is None:
            raise Http404("No image of this invoice can be shown right now.")
        response = HttpResponse(image.pdf, content_type="application/pdf")
        disposition = "attachment" if self.as_attachment else "inline"
        response["Content-Disposition"] = f'{disposition}; filename="{image.filename}"'
        response["X-Invoice-Image-Source"] = image.source_key
        response["Cache-Control"] = "private, no-store"
        return response


# --- staff invoice pages -------------------------------------------------------------------------


class InvoiceListView(StaffRequiredMixin, NearestPageMixin, ListView):
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

    def extra_context(self, invoice: Invoice) -> dict:
        return {"balance_disagreement": balance_disagreement(invoice)}


class InvoiceImageView(StaffInvoiceMixin, InvoiceImagePanelBase):
    show_source = True
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


# --- Configurations > Billing ------------------------------------------------------------------


class InvoiceImageDataView(StaffRequiredMixin, View):
    """Configurations > Billing > Invoice Image Data: order and enable the image sources."""

    template_name = "billing/image_sources.html"

    def _render(self, request, *, error: str = "", status: int = 200):
        sources = [
            {"item": item, "status": item.source.status(), "name": item.source.display_name()}
            for item in image_source_config()
        ]
        return render(request, self.template_name, {"sources": sources, "error": error}, status=status)

    def get(self, request):
        return self._render(request)

    def post(self, request):
        try:
            image_sources_save(
                actor=request.user,
                order=request.POST.getlist("order"),
                enabled=set(request.POST.getlist("enabled")),
            )
        except ValidationError as exc:
            return self._render(request, error=" ".join(exc.messages), status=400)
        messages.success(request, "Invoice Image Data saved.")
        return redirect("billing-config:image-sources")
