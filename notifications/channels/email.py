"""The e-mail channel: the notification's text and HTML to its recipients, the invoice PDF
attached when the type concerns an invoice.

E-mail has no idempotency key a mail server honours, so this channel cannot find what an
earlier attempt did. Every attempt carries the same Message-ID (mail systems drop a duplicate)
and its task is acknowledged early (see ``tasks.py``): a message is not redelivered blindly.

A message is sent only to valid single addresses (``notifications.addresses``), checked again
when sent (a row addressed by an earlier version may hold ``a@x, b@y``); its subject is one
line (``rendering.email_subject``). A message that still cannot be built fails with the reason.
"""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.utils import timezone

from billing.images import resolve_invoice_image
from notifications import rendering, selectors
from notifications.addresses import valid_addresses
from notifications.channels.base import DeliveryChannel, DeliveryFailed, DeliveryOutcome, DeliveryRetry
from notifications.delivery import finish
from notifications.models import Delivery, DeliveryStatus
from notifications.types import spec_for

logger = logging.getLogger(__name__)

# The mail server may come back: worth another attempt.
TRANSIENT_ERRORS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    TimeoutError,
)


class EmailChannel(DeliveryChannel):
    def address(self, delivery: Delivery) -> str:
        found = selectors.recipients_for(delivery.notification)
        delivery.recipients, delivery.recipient_source = found.emails, found.source
        if not found.emails:
            logger.warning("Notification %s: no email sent: %s", delivery.notification.pk, found.reason)
            return f"No email sent: {found.reason}"
        return ""

    def readdress(self, delivery: Delivery) -> str:
        """Recipients are looked up anew when there were none (they may have been added since)."""
        if delivery.status != DeliveryStatus.SKIPPED and delivery.recipients:
            return ""
        found = selectors.recipients_for(delivery.notification)
        if not found.emails:
            return f"No email sent: {found.reason}"
        delivery.recipients, delivery.recipient_source = found.emails, found.source
        return ""

    def send(self, delivery: Delivery) -> DeliveryOutcome:
        try:
            message, note = email_message(delivery)
            message.connection = get_connection(settings.NOTIFICATIONS_EMAIL_BACKEND or None)
            if not message.send(fail_silently=False):
                raise DeliveryRetry("The mail server accepted no message.")
        except (DeliveryRetry, *TRANSIENT_ERRORS) as exc:
            raise DeliveryRetry(smtp_reason(exc)) from exc
        except smtplib.SMTPResponseException as exc:  # 4xx: try again later; 5xx: it will not change
            if 400 <= exc.smtp_code < 500:
                raise DeliveryRetry(smtp_reason(exc)) from exc
            raise DeliveryFailed(smtp_reason(exc)) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(smtp_reason(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryRetry(smtp_reason(exc)) from exc
        except (BadHeaderError, ValueError) as exc:  # an address or header Django refuses: it will not change
            raise DeliveryFailed(f"The email could not be built: {exc}"[:500]) from exc
        finish(delivery, status=DeliveryStatus.SENT, sent_at=timezone.now(), reason=note)
        return DeliveryOutcome("sent")


def smtp_reason(exc: BaseException) -> str:
    """The mail server's answer, in words for the log."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{addr} ({code})" for addr, (code, _msg) in exc.recipients.items())
        return f"The mail server refused the recipients: {refused}"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"The mail server answered {exc.smtp_code}: {text}"[:500]
    return f"Could not send the email: {type(exc).__name__}: {exc}"[:500]


def email_message(delivery: Delivery) -> tuple[EmailMultiAlternatives, str]:
    """The message to send, and a note for the log when the invoice PDF could not be attached."""
    notification = delivery.notification
    recipients = valid_addresses(delivery.recipients, source=f"delivery {delivery.pk}")
    if not recipients:
        raise DeliveryFailed(f"No valid e-mail address among the recipients: {', '.join(delivery.recipients)}"[:500])
    ctx = rendering.render_context(notification)
    text, html = rendering.email_bodies(notification, ctx)
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "portal.local"
    message = EmailMultiAlternatives(
        subject=rendering.email_subject(notification, ctx),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        # The same Message-ID on every attempt: mail systems drop a duplicate after a crash.
        headers={
            "Message-ID": f"<{delivery.dedupe_key.replace(':', '.')}@{domain}>",
            "X-Portal-Ref": delivery.dedupe_key,
        },
    )
    message.attach_alternative(html, "text/html")
    note = ""
    if spec_for(notification.kind).concerns_invoice and notification.invoice is not None:
        note = attach_invoice_pdf(message, notification.invoice)
    return message, note


def attach_invoice_pdf(message: EmailMultiAlternatives, invoice) -> str:
    """Attach the invoice's PDF; returns why it is missing ("" when attached)."""
    try:
        image = resolve_invoice_image(invoice)
    except Exception as exc:
        logger.warning("Invoice %s PDF unavailable: %s", invoice.pk, type(exc).__name__)
        return f"Sent without the invoice PDF: {exc}"[:500]
    pdf = getattr(image, "pdf", None) if image is not None else None
    if not pdf:
        return "Sent without the invoice PDF: no invoice image source had one."
    safe_number = "".join(ch for ch in invoice.number if ch.isalnum() or ch in "-_.") or str(invoice.pk)
    message.attach(f"invoice-{safe_number}.pdf", pdf, "application/pdf")
    return ""
