"""Signals other apps listen to (notifications, the client's cached invoice lists).

``payment_changed(payment, previous_status)``: sent after the commit that recorded a payment
(``previous_status`` None), changed its status, or changed whether it waits for the
cardholder. Sent once per change, whatever the duplicates that led to it.

``autopay_changed(organization_id)``: sent after the commit that changed an organization's
autopay rules (added, changed, moved, deleted, paused): what its invoices say about autopay."""

from django.dispatch import Signal

payment_changed = Signal()
autopay_changed = Signal()
