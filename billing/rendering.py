"""The portal's own rendering of an invoice as a PDF, from the parts in billing.pdf (the fonts
shipped with the portal: names in any script print as written)."""

from __future__ import annotations

from decimal import Decimal

from billing.models import Invoice, InvoiceLine
from billing.pdf import PortalPdf, amount, day_of, text

# The table's columns: description, quantity, unit price, amount (shares of the page width).
COLUMNS = (50, 10, 16, 16)


def _quantity(value: Decimal | None) -> str:
    value = value or Decimal("0")
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:.2f}"


def render_invoice_pdf(invoice: Invoice, lines: list[InvoiceLine] | None = None) -> bytes:
    """The invoice, its lines and its amounts on Letter pages, branded with the MSP's name."""
    if lines is None:
        lines = list(invoice.lines.filter(deleted_at__isnull=True).order_by("bms_id"))
    pdf = PortalPdf(title=f"Invoice {invoice.number}", footer=f"Invoice {invoice.number}")
    pdf.masthead("INVOICE", invoice.number)

    organization = invoice.organization
    bill_to = [organization.name, *organization.billing_address_lines] if organization else []
    contact = (invoice.bill_to or {}).get("name")
    if contact:
        bill_to.append(f"Attn: {contact}")
    facts = [
        ("Invoice date", day_of(invoice.invoice_date)),
        ("Due date", day_of(invoice.due_date)),
        ("Status", invoice.status or "-"),
    ]
    if invoice.po_number:
        facts.append(("PO number", invoice.po_number))
    pdf.party_and_facts("BILL TO", bill_to, facts)

    description_width = pdf.epw * COLUMNS[0] / sum(COLUMNS)
    with pdf.house_table(
        ("Description", "Qty", "Unit price", "Amount"), COLUMNS, ("LEFT", "RIGHT", "RIGHT", "RIGHT")
    ) as table:
        for line in lines:
            label = line.name or line.line_type or "Item"
            if line.description and line.description != line.name:
                label = f"{label}\n{line.description}"
            chunks = pdf.row_chunks(text(label), description_width)
            table.row(
                (
                    chunks[0],
                    _quantity(line.quantity),
                    amount(line.unit_price, invoice.currency),
                    amount(line.total, invoice.currency),
                )
            )
            for chunk in chunks[1:]:
                table.row((chunk, "", "", ""))
        if not lines:
            table.row(("No line items.", "", "", ""))

    pdf.totals(
        [
            ("Subtotal", amount(invoice.total - invoice.tax, invoice.currency)),
            ("Tax", amount(invoice.tax, invoice.currency)),
            ("Total", amount(invoice.total, invoice.currency)),
            ("Paid", amount(invoice.paid_amount, invoice.currency)),
            ("Balance due", amount(invoice.balance_due, invoice.currency)),
        ],
        bold=("Total", "Balance due"),
    )
    if invoice.notes:
        pdf.section("NOTES", invoice.notes)
    pdf.closing(
        f"Rendered by the {pdf.msp_name} billing portal from the invoice data synced on {day_of(invoice.synced_at)}."
    )
    return pdf.to_bytes()
