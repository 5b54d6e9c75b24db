"""The invoice page, its image panel, PDF and download: shared by staff and client views.

Subclasses say how an invoice is found (``get_invoice``): staff see any invoice, a client
contact only their organization's (404 for anything else).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from billing.forms import InvoiceCommentForm
from billing.images import resolve_invoice_image
from billing.models import Invoice
from billing.selectors import invoice_comments, invoice_lines
from billing.services import invoice_comment_create


class InvoiceLookupMixin:
    url_namespace: str

    def get_invoice(self, pk: int) -> Invoice:
        raise NotImplementedError

    def urls(self, invoice: Invoice) -> dict[str, str]:
        from django.urls import reverse

        ns = self.url_namespace
        return {
            name: reverse(f"{ns}:invoice-{name}" if name != "page" else f"{ns}:invoice", args=[invoice.pk])
            for name in ("page", "image", "pdf", "download")
        }


class InvoiceDetailBase(InvoiceLookupMixin, View):
    template_name: str
    can_comment = False

    def get(self, request, pk: int, comment_form=None, status: int = 200):
        invoice = self.get_invoice(pk)
        lines = invoice_lines(invoice)
        context = {
            "invoice": invoice,
            "lines": lines,
            "subtotal": invoice.total - invoice.tax,
            "comments": invoice_comments(invoice),
            "comment_form": comment_form or (InvoiceCommentForm() if self.can_comment else None),
            "urls": self.urls(invoice),
        }
        return render(request, self.template_name, context, status=status)


class InvoiceImagePanelBase(InvoiceLookupMixin, View):
    """The image panel (loaded by htmx after the page): which source served, the inline PDF."""

    template_name = "billing/_invoice_image.html"
    show_skipped = False

    def get(self, request, pk: int):
        invoice = self.get_invoice(pk)
        image = resolve_invoice_image(invoice)
        return render(
            request,
            self.template_name,
            {"invoice": invoice, "image": image, "urls": self.urls(invoice), "show_skipped": self.show_skipped},
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


class InvoiceCommentBase(InvoiceLookupMixin, View):
    detail_view: type[InvoiceDetailBase]

    def post(self, request, pk: int):
        invoice = self.get_invoice(pk)
        form = InvoiceCommentForm(request.POST)
        if form.is_valid():
            try:
                _comment, created = invoice_comment_create(
                    invoice=invoice, author=request.user, body=form.cleaned_data["body"]
                )
            except ValidationError as exc:
                form.add_error("body", exc)
            else:
                if created:
                    messages.success(request, "Your comment was sent to the billing team.")
                return redirect(f"{self.urls(invoice)['page']}#comments")
        view = self.detail_view()
        view.setup(request, pk=pk)
        return view.get(request, pk, comment_form=form, status=400)
