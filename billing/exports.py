"""CSV export of the staff invoice list.

Invariants: the export holds exactly the invoices the list shows for the same query string
(its filters, every page), in the same order; staff only, as the list; it streams (see
core.csv_export), reading the invoices in chunks with ``iterator()``.
"""

from django.utils import timezone

from billing.models import Invoice
from billing.views import InvoiceListView
from core.csv_export import csv_streaming_response
from integrations.locale import tenant_currency

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
    "Currency",
    "PO number",
)


def _day(value) -> str:
    """The date in the portal's time zone, ISO (YYYY-MM-DD): machine-readable, whatever the
    tenant's display format."""
    return timezone.localtime(value).date().isoformat() if value else ""


def invoice_row(invoice: Invoice, currency: str) -> tuple:
    """Amounts as plain decimals, with the invoice's currency (``currency``, the tenant's, when it names none)."""
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
        invoice.currency or currency,
        invoice.po_number,
    )


class InvoiceExportView(InvoiceListView):
    """The invoice list's filters and access, answered as a CSV file instead of a page."""

    def get(self, request, *args, **kwargs):
        invoices = self.get_queryset()
        currency = tenant_currency()
        return csv_streaming_response(
            filename=f"invoices-{timezone.localdate():%Y-%m-%d}.csv",
            header=INVOICE_COLUMNS,
            rows=(invoice_row(invoice, currency) for invoice in invoices.iterator(chunk_size=2000)),
        )
