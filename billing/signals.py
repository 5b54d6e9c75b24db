"""Billing events other apps (notifications) listen to."""

from django.dispatch import Signal

# A client contact commented on an invoice. Arguments: comment (billing.models.InvoiceComment,
# with .invoice, .author and .body). Sent after the comment is committed.
invoice_comment_posted = Signal()
