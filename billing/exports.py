"""CSV export of the staff invoice list.

Invariants: the export holds exactly the invoices the list shows for the same query string
(its filters, every page), in the same order; staff only, as the list; it streams (see
core.csv_export), reading the invoices in chunks with ``iterator()``.
"""

from django.utils import timezone

from billing.models import Invoice
from billing.views import InvoiceListView
from core.csv_export import csv_streaming_response

INVOICE_COLUMNS = (
    "Number",
    "Organization",
    "Invoice date",
    "Due date",
    "Status",
    "Past due",
    "Total",
    "Tax",
    "Paid",
    "Balance due",
    "PO number",
)


def _day(value) -> str:
    """The date in the portal's time zone, as the list shows it (YYYY-MM-DD)."""
    return timezone.localtime(value).date().isoformat() if value else ""


def invoice_row(invoice: Invoice) -> tuple:
    return (
        invoice.number,
        invoice.organization.name if invoice.organization else "",
        _day(invoice.invoice_date),
        _day(invoice.due_date),
        invoice.status,
        "yes" if invoice.is_past_due else "no",
        invoice.total,
        invoice.tax,
        invoice.paid_amount,
        invoice.balance_due,
        invoice.po_number,
    )


class InvoiceExportView(InvoiceListView):
    """The invoice list's filters and access, answered as a CSV file instead of a page."""

    def get(self, request, *args, **kwargs):
        invoices = self.get_queryset()
        return csv_streaming_response(
            filename=f"invoices-{timezone.localdate():%Y-%m-%d}.csv",
            header=INVOICE_COLUMNS,
            rows=(invoice_row(invoice) for invoice in invoices.iterator(chunk_size=2000)),
        )
