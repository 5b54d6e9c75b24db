"""Read-only admin pages of invoices, their lines, comments and the image sources
(accounts.admin_site): for troubleshooting; the sync owns the invoices."""

from accounts.admin_site import register_read_only
from billing.models import Invoice, InvoiceComment, InvoiceImageSource, InvoiceLine

register_read_only(Invoice, InvoiceLine, InvoiceComment, InvoiceImageSource)
