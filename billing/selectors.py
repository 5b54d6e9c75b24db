from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role
from billing.image_sources import SOURCES, ImageSource
from billing.models import Invoice, InvoiceComment, InvoiceImageSource, InvoiceLine

INVOICE_STATES = {"open": gettext_lazy("Open"), "paid": gettext_lazy("Paid"), "past_due": gettext_lazy("Past due")}


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


# --- invoice image sources ------------------------------------------------------------------


@dataclass(frozen=True)
class ConfiguredSource:
    source: ImageSource
    position: int
    enabled: bool

    @property
    def key(self) -> str:
        return self.source.key


def image_source_config() -> list[ConfiguredSource]:
    """Every known image source in the configured order (defaults for sources never saved)."""
    rows = {row.key: row for row in InvoiceImageSource.objects.all()}
    configured = []
    for default_position, (key, source) in enumerate(SOURCES.items()):
        row = rows.get(key)
        position = row.position if row else 1000 + default_position
        configured.append(ConfiguredSource(source, position, row.enabled if row else True))
    return sorted(configured, key=lambda c: (c.position, list(SOURCES).index(c.key)))


def staff_invoice_get(*, pk: int) -> Invoice:
    return get_object_or_404(Invoice.objects.select_related("organization", "source__integration"), pk=pk)


def invoice_lines(invoice: Invoice) -> list[InvoiceLine]:
    return list(invoice.lines.filter(deleted_at__isnull=True).order_by("bms_id"))


def invoice_comments(invoice: Invoice) -> list[InvoiceComment]:
    return list(invoice.comments.order_by("created_at", "id"))


def invoice_thread_client_emails(invoice: Invoice) -> list[str]:
    """The e-mail addresses of the client contacts who commented on the invoice and can still
    read its thread (active, of its organization), in the order they first commented."""
    authors = (
        invoice.comments.filter(
            is_staff_reply=False,
            author__is_active=True,
            author__role=Role.CLIENT_CONTACT,
            author__organization_id=invoice.organization_id,
        )
        .order_by("created_at", "id")
        .values_list("author__email", flat=True)
    )
    return list(dict.fromkeys(authors))


def reply_refusal(invoice: Invoice) -> str:
    """Why staff cannot reply on this invoice's thread (no client would read it), or ""."""
    if invoice.deleted_at is not None:
        return _("Invoice %(number)s is no longer in BMS and clients do not see it: a reply would reach nobody.") % {
            "number": invoice.number
        }
    organization = invoice.organization
    if organization is None or organization.deleted_at is not None:
        return _(
            "The organization of invoice %(number)s was deleted in BMS and its portal is closed: "
            "a reply would reach nobody."
        ) % {"number": invoice.number}
    return ""
