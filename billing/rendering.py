"""The portal's own rendering of an invoice as a PDF (fpdf2: pure Python, no system packages)."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from billing.models import Invoice, InvoiceLine
from integrations.locale import tenant_locale

# The PDF core fonts speak Latin-1; common typographic characters are mapped, others become "?".
_REPLACEMENTS = str.maketrans(
    {
        "\u2013": "-",
        "\u2014": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u20ac": "EUR",
        "\u2022": "*",
        "\u00a0": " ",
    }
)


def _text(value: object) -> str:
    text = unicodedata.normalize("NFC", str(value or "")).translate(_REPLACEMENTS)
    return text.encode("latin-1", "replace").decode("latin-1")


def _money(value: Decimal | None, currency: str) -> str:
    return _text(tenant_locale().money(value or Decimal("0"), currency))


def _quantity(value: Decimal | None) -> str:
    value = value or Decimal("0")
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:.2f}"


def _date(value) -> str:
    return _text(tenant_locale().day(timezone.localtime(value))) if value else "-"


class _InvoicePdf(FPDF):
    def __init__(self, msp_name: str, number: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="Letter")
        self.msp_name = msp_name
        self.number = number
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)
        self.set_title(f"Invoice {number}")
        self.set_author(msp_name)
        self.set_creator(f"{msp_name} billing portal")

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font("Helvetica", size=8)
        self.set_text_color(120)
        self.cell(0, 5, _text(f"{self.msp_name} - Invoice {self.number} - page {self.page_no()} of {{nb}}"), align="C")


def render_invoice_pdf(invoice: Invoice, lines: list[InvoiceLine] | None = None) -> bytes:
    """The invoice, its lines and its amounts on Letter pages, branded with the MSP's name."""
    if lines is None:
        lines = list(invoice.lines.filter(deleted_at__isnull=True).order_by("bms_id"))
    msp_name = _text(settings.MSP_NAME)
    pdf = _InvoicePdf(msp_name, _text(invoice.number))
    pdf.add_page()
    width = pdf.epw

    # Header: the MSP's name, then INVOICE and its number.
    pdf.set_fill_color(33, 37, 41)
    pdf.rect(0, 0, pdf.w, 6, style="F")
    pdf.set_fill_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 20)
    pdf.set_text_color(33, 37, 41)
    pdf.cell(width * 0.6, 10, msp_name, new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width * 0.4, 10, "INVOICE", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=10)
    pdf.set_text_color(90)
    pdf.cell(width * 0.6, 6, "Billing portal", new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.set_text_color(33, 37, 41)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(width * 0.4, 6, f"No. {_text(invoice.number)}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)

    # Bill to (left) and the invoice facts (right).
    organization = invoice.organization
    bill_to = [organization.name] if organization else []
    if organization:
        bill_to += organization.billing_address_lines
    contact = (invoice.bill_to or {}).get("name")
    if contact:
        bill_to.append(f"Attn: {contact}")
    facts = [
        ("Invoice date", _date(invoice.invoice_date)),
        ("Due date", _date(invoice.due_date)),
        ("Status", invoice.status or "-"),
    ]
    if invoice.po_number:
        facts.append(("PO number", invoice.po_number))
    top = pdf.get_y()
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_text_color(90)
    pdf.cell(width * 0.55, 5, "BILL TO", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(33, 37, 41)
    pdf.set_font("Helvetica", size=10)
    for line in bill_to or ["-"]:
        pdf.cell(width * 0.55, 5, _text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()
    pdf.set_y(top)
    for label, value in facts:
        pdf.set_x(pdf.l_margin + width * 0.55)
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(width * 0.2, 5, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.set_font("Helvetica", size=10)
        pdf.cell(width * 0.25, 5, _text(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 8)

    # Lines.
    pdf.set_font("Helvetica", size=9)
    pdf.set_draw_color(200)
    pdf.set_text_color(33, 37, 41)
    with pdf.table(
        cell_fill_color=(244, 245, 247),
        cell_fill_mode="EVEN_ROWS",
        col_widths=(50, 10, 16, 16),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=_headings_style(),
        line_height=5.5,
        borders_layout="HORIZONTAL_LINES",
        first_row_as_headings=True,
    ) as table:
        table.row(("Description", "Qty", "Unit price", "Amount"))
        description_width = width * 50 / 92  # the first column's share of col_widths
        for line in lines:
            label = line.name or line.line_type or "Item"
            if line.description and line.description != line.name:
                label = f"{label}\n{line.description}"
            # A row must fit on one page: a long description continues in rows of its own.
            chunks = _wrapped_chunks(pdf, _text(label), description_width)
            table.row(
                (
                    chunks[0],
                    _quantity(line.quantity),
                    _money(line.unit_price, invoice.currency),
                    _money(line.total, invoice.currency),
                )
            )
            for chunk in chunks[1:]:
                table.row((chunk, "", "", ""))
        if not lines:
            table.row(("No line items.", "", "", ""))
    pdf.ln(4)

    # Amounts.
    subtotal = invoice.total - invoice.tax
    amounts = [
        ("Subtotal", _money(subtotal, invoice.currency)),
        ("Tax", _money(invoice.tax, invoice.currency)),
        ("Total", _money(invoice.total, invoice.currency)),
        ("Paid", _money(invoice.paid_amount, invoice.currency)),
        ("Balance due", _money(invoice.balance_due, invoice.currency)),
    ]
    for label, value in amounts:
        bold = label in {"Total", "Balance due"}
        pdf.set_x(pdf.l_margin + width * 0.55)
        pdf.set_font("Helvetica", "B" if bold else "", 11 if bold else 10)
        pdf.cell(width * 0.2, 6.5, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.cell(width * 0.25, 6.5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    if invoice.notes:
        pdf.ln(6)
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(0, 5, "NOTES", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(0, 4.5, _text(invoice.notes), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.ln(8)
    pdf.set_font("Helvetica", "I", 8)
    pdf.set_text_color(120)
    pdf.multi_cell(
        0,
        4,
        _text(f"Rendered by the {msp_name} billing portal from the invoice data synced on {_date(invoice.synced_at)}."),
    )
    return bytes(pdf.output())


# Lines of description per table row: a row taller than a page makes fpdf2 raise.
ROW_LINES = 30


def _wrapped_chunks(pdf: FPDF, text: str, width: float) -> list[str]:
    """``text`` as it wraps in a cell ``width`` wide, in pieces of at most ROW_LINES lines."""
    lines = pdf.multi_cell(width - 2 * pdf.c_margin, 5.5, text, dry_run=True, output="LINES")
    if len(lines) <= ROW_LINES:
        return [text]
    return ["\n".join(lines[start : start + ROW_LINES]) for start in range(0, len(lines), ROW_LINES)]


def _headings_style():
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=(33, 37, 41))
