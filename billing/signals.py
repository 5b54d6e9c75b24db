"""Billing events other apps (notifications) listen to."""

from django.dispatch import Signal

# A message joined an invoice's thread: a client contact's comment or a staff reply
# (``comment.is_staff_reply``). Arguments: comment (billing.models.InvoiceComment, with
# .invoice, .author and .body). Sent after the comment is committed.
invoice_comment_posted = Signal()
