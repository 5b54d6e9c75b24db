"""The e-mail channel: an e-mail sent through a real SMTP server on loopback (aiosmtpd), read
back; the mail server down; an e-mail sent once however often its task runs."""

import socket

import pytest
from django.core import mail

from notifications.delivery import delivery_attempt
from notifications.firing import notification_fire
from notifications.models import Channel, DeliveryStatus
from notifications.types import NotificationKind
from tests.notifications.conftest import org_with, set_preferences

pytestmark = pytest.mark.django_db


def test_new_invoice_email_through_smtp_with_the_invoice_pdf(ticket_settings, smtp_settings):
    """Depends on billing.images.resolve_invoice_image (the invoice image resolver)."""
    set_preferences(email=True, ticket=False)
    org = org_with("recipient")
    invoice = org.invoices.order_by("-invoice_date").first()
    notification = notification_fire(NotificationKind.NEW_INVOICE, invoice=invoice)
    email = notification.deliveries.get(channel=Channel.EMAIL)
    assert delivery_attempt(email.pk).status == "sent"
    email.refresh_from_db()
    assert email.status == DeliveryStatus.SENT and email.reason == "", email.reason

    [(rcpt_tos, message)] = smtp_settings.messages
    assert sorted(rcpt_tos) == sorted(email.recipients)
    assert message["Subject"] == f"New invoice {invoice.number} from Demo MSP"
    assert message["From"] == "billing@portal.local"
    assert message["Message-ID"] == f"<{notification.uuid}.email@portal.local>"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert invoice.number in text and "http://127.0.0.1:8000/portal/invoices/" in text
    assert f"<strong>{invoice.number}</strong>" in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"invoice-{invoice.number}.pdf"
    assert attachment.get_content().startswith(b"%PDF")


def test_smtp_server_down_is_retried_and_the_log_says_why(ticket_settings, settings):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.NOTIFICATIONS_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    set_preferences(email=True, ticket=False)
    notification = notification_fire(
        NotificationKind.PAYMENT_SUCCESSFUL, organization=org_with("poc"), context={"amount": "1"}
    )
    email = notification.deliveries.get(channel=Channel.EMAIL)
    outcome = delivery_attempt(email.pk)
    email.refresh_from_db()
    assert outcome.status == "retrying" and email.status == DeliveryStatus.RETRYING
    assert "ConnectionRefusedError" in email.last_error


def test_sent_email_is_never_sent_again(ticket_settings):
    set_preferences(email=True, ticket=False)
    notification = notification_fire(
        NotificationKind.PAYMENT_SUCCESSFUL, organization=org_with("poc"), context={"amount": "5"}
    )
    email = notification.deliveries.get(channel=Channel.EMAIL)
    assert delivery_attempt(email.pk).status == "sent"
    assert delivery_attempt(email.pk).status == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"].startswith(f"<{notification.uuid}.email@")
