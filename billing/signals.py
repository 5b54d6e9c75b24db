"""Client-portal events other apps (notifications) listen to."""

from django.dispatch import Signal

# A client contact commented on an invoice. Arguments: comment (billing.models.InvoiceComment,
# with .invoice, .author and .body). Sent after the comment is committed.
invoice_comment_posted = Signal()

# Someone asked for portal access. Arguments: access_request (with .email, .full_name,
# .organization (or None when no synced contact matched) and .message). Sent after commit.
portal_access_requested = Signal()
