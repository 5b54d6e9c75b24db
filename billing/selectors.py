from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from billing.models import Invoice

INVOICE_STATES = {"open": "Open", "paid": "Paid", "past_due": "Past due"}


def invoice_list(
    *,
    search: str = "",
    state: str = "",
    organization_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Invoice]:
    invoices = Invoice.objects.select_related("organization").filter(deleted_at__isnull=True)
    if search:
        invoices = invoices.filter(number__icontains=search)
    if state == "open":
        invoices = invoices.filter(balance_due__gt=0)
    elif state == "paid":
        invoices = invoices.filter(balance_due__lte=0)
    elif state == "past_due":
        invoices = invoices.filter(balance_due__gt=0, due_date__lt=timezone.now())
    if organization_id:
        invoices = invoices.filter(organization_id=organization_id)
    if date_from:
        invoices = invoices.filter(invoice_date__date__gte=date_from)
    if date_to:
        invoices = invoices.filter(invoice_date__date__lte=date_to)
    return invoices.order_by("-invoice_date", "-id")
