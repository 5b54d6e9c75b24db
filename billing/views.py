"""Billing's pages: the staff invoice pages and Configurations > Billing.

The invoice page, its image panel, PDF and download are built on bases shared with the
client portal (portal.views): subclasses say how an invoice is found (``get_invoice``):
staff see any invoice, a client contact only their organization's (404 for anything else).
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import ListView

from accounts.permissions import StaffRequiredMixin
from billing.balances import balance_disagreement
from billing.forms import InvoiceFilterForm, InvoiceReplyForm
from billing.images import invoice_image_cache_clear, resolve_invoice_image
from billing.models import Invoice
from billing.pdf import pdf_response
from billing.selectors import (
    image_source_config,
    invoice_comments,
    invoice_lines,
    invoice_list,
    reply_refusal,
    staff_invoice_get,
)
from billing.services import image_sources_save, invoice_comment_reply
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
            for name in ("page", "image", "pdf", "download", "comment")
        }


class InvoiceDetailBase(InvoiceLookupMixin, View):
    template_name: str
    # The form under the thread: a client's comment or a staff reply.
    comment_form_class: type[forms.Form]

    def comments_closed(self, invoice: Invoice) -> str:
        """Why no form is offered under the thread (said instead of it), or ""."""
        return ""

    def get(self, request, pk: int, comment_form=None, status: int = 200):
        invoice = self.get_invoice(pk)
        lines = invoice_lines(invoice)
        closed = self.comments_closed(invoice)
        context = {
            "invoice": invoice,
            "lines": lines,
            "subtotal": invoice.total - invoice.tax,
            "comments": invoice_comments(invoice),
            "comments_closed": closed,
            "comment_form": None if closed else comment_form or self.comment_form_class(),
            "urls": self.urls(invoice),
            **self.extra_context(invoice),
        }
        return render(request, self.template_name, context, status=status)

    def extra_context(self, invoice: Invoice) -> dict:
        return {}


class InvoiceCommentPostBase(InvoiceLookupMixin, View):
    """A message for the invoice's thread; a refused one shows the invoice page again with
    the error (status 400) and nothing is saved."""

    detail_view: type[InvoiceDetailBase]
    success_message: str

    def thread_post(self, *, invoice: Invoice, author, body: str):
        raise NotImplementedError

    def post(self, request, pk: int):
        invoice = self.get_invoice(pk)
        form = self.detail_view.comment_form_class(request.POST)
        if form.is_valid():
            try:
                _comment, created = self.thread_post(
                    invoice=invoice, author=request.user, body=form.cleaned_data["body"]
                )
            except ValidationError as exc:
                form.add_error("body", exc)
            else:
                if created:
                    messages.success(request, self.success_message)
                return redirect(f"{self.urls(invoice)['page']}#comments")
        view = self.detail_view()
        view.setup(request, pk=pk)
        # Refused because the thread is closed: the page says why in place of the form.
        return view.get(request, pk, comment_form=form, status=400)


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
        response = pdf_response(image.pdf, image.filename, as_attachment=self.as_attachment)
        response["X-Invoice-Image-Source"] = image.source_key
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
    comment_form_class = InvoiceReplyForm

    def comments_closed(self, invoice: Invoice) -> str:
        return reply_refusal(invoice)

    def extra_context(self, invoice: Invoice) -> dict:
        return {"balance_disagreement": balance_disagreement(invoice)}


class InvoiceCommentReplyView(StaffInvoiceMixin, InvoiceCommentPostBase):
    detail_view = InvoiceDetailView
    success_message = gettext_lazy("Your reply was added; the client is e-mailed about it.")

    def thread_post(self, *, invoice: Invoice, author, body: str):
        return invoice_comment_reply(invoice=invoice, author=author, body=body)


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
        messages.success(
            request, _("The image of invoice %(number)s will be fetched again.") % {"number": invoice.number}
        )
        return redirect("billing:invoice", pk=invoice.pk)


# --- Configurations > Billing ------------------------------------------------------------------


class InvoiceImageDataView(StaffRequiredMixin, View):
    """Configurations > Billing > Invoice Image Data: order and enable the image sources."""

    template_name = "billing/image_sources.html"

    def _render(self, request, *, error: str = "", status: int = 200):
        sources = []
        for item in image_source_config():
            source_status = item.source.status()
            sources.append({"item": item, "status": source_status, "name": source_status.name})
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
        messages.success(request, _("Invoice Image Data saved."))
        return redirect("billing-config:image-sources")
