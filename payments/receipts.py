"""A payment's receipt: what it says (the HTML page and the PDF read the same ``Receipt``) and
the PDF, built from the parts of the portal's invoice PDF (billing.pdf: same page, fonts and
money format). A receipt exists once money moved: succeeded, or refunded in part or in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.pdf import PortalPdf, amount, moment_of, pdf_response, text
from payments.models import MONEY_MOVED_STATUSES, Payment, Refund
from payments.templatetags.payments_tags import rate

NOT_ISSUED = gettext_lazy("A receipt is issued once the payment has succeeded.")


@dataclass(frozen=True)
class ReceiptLine:
    label: str
    amount: Decimal
    is_surcharge: bool = False


@dataclass(frozen=True)
class Receipt:
    payment: Payment
    number: str  # P-<payment id>
    received_at: datetime
    lines: list[ReceiptLine]  # each invoice paid, then the card surcharge if any
    refunds: list[Refund]  # requested or done (not failed), oldest first

    @property
    def filename(self) -> str:
        return f"receipt-{self.number}.pdf"


def is_issued(payment: Payment) -> bool:
    return payment.status in MONEY_MOVED_STATUSES


def receipt_or_404(payment: Payment) -> Receipt:
    """The payment's receipt; Http404 while none is issued (pending, processing, failed)."""
    if not is_issued(payment):
        raise Http404(NOT_ISSUED)
    lines = [ReceiptLine(allocation.invoice.number, allocation.amount) for allocation in payment.allocations.all()]
    if payment.surcharge:
        if payment.surcharge_percent:
            label = _("Card surcharge (%(percent)s%%)") % {"percent": rate(payment.surcharge_percent)}
        else:
            label = _("Card surcharge")
        lines.append(ReceiptLine(label, payment.surcharge, is_surcharge=True))
    refunds = sorted((refund for refund in payment.refunds.all() if refund.counts), key=lambda r: (r.created_at, r.pk))
    return Receipt(
        payment=payment,
        number=f"P-{payment.pk}",
        received_at=payment.succeeded_at or payment.created_at,
        lines=lines,
        refunds=refunds,
    )


def render_receipt_pdf(receipt: Receipt) -> bytes:
    payment = receipt.payment
    organization = payment.organization
    title = _("Receipt %(number)s") % {"number": receipt.number}
    pdf = PortalPdf(title=title, footer=title)
    pdf.masthead(_("RECEIPT"), receipt.number)
    pdf.party_and_facts(
        _("RECEIVED FROM"),
        [organization.name, *organization.billing_address_lines],
        [
            (_("Receipt number"), receipt.number),
            (_("Date"), moment_of(receipt.received_at)),
            (_("Paid with"), payment.method.label),
            (_("Status"), payment.get_status_display()),
        ],
    )
    amount_heading = _("Amount (%(currency)s)") % {"currency": payment.currency}
    with pdf.house_table((_("Invoice"), amount_heading), (70, 22), ("LEFT", "RIGHT")) as table:
        for line in receipt.lines:
            table.row((text(line.label), amount(line.amount, payment.currency)))
    total_paid = _("Total paid")
    totals = [(total_paid, amount(payment.total, payment.currency))]
    if payment.refunded_amount:
        totals.append((_("Refunded"), amount(payment.refunded_amount, payment.currency)))
    pdf.totals(totals, bold=(total_paid,))
    if receipt.refunds:
        pdf.ln(6)
        with pdf.house_table(
            (_("Refund requested"), _("Status"), amount_heading), (40, 30, 22), ("LEFT", "LEFT", "RIGHT")
        ) as table:
            for refund in receipt.refunds:
                table.row(
                    (moment_of(refund.created_at), refund.get_status_display(), amount(refund.amount, payment.currency))
                )
    pdf.closing(
        _("Payment %(number)s received by %(msp)s through its billing portal.")
        % {"number": receipt.number, "msp": pdf.msp_name}
    )
    return pdf.to_bytes()


def receipt_pdf_response(receipt: Receipt) -> HttpResponse:
    """The receipt as a PDF download."""
    return pdf_response(render_receipt_pdf(receipt), receipt.filename, as_attachment=True)
