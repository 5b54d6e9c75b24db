"""Retry is offered only where it can help (issue 14, item 17): an e-mail the mail server
refused for good (an unknown mailbox: 5xx) would fail the same way, so neither the log nor
the notification's page offers Retry, and a hand-made retry is refused with the reason; an
e-mail that gave up after transient errors still offers it. Through a real SMTP server on
loopback that refuses the recipient."""

import socket

import pytest
from aiosmtpd.controller import Controller
from django.urls import reverse

from notifications.delivery import delivery_attempt
from notifications.firing import notification_fire
from notifications.models import Channel, Delivery, DeliveryStatus
from notifications.types import NotificationKind
from tests.notifications.conftest import offer_accounting, org_with, set_preferences

pytestmark = pytest.mark.django_db

LOG = reverse("notifications:log")


class _RefusingHandler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        return "550 5.1.1 No such mailbox"


@pytest.fixture
def refusing_smtp(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(_RefusingHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.NOTIFICATIONS_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield
    controller.stop()


def _email_to_poc() -> Delivery:
    notification = notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org_with("poc"))
    return notification.deliveries.get(channel=Channel.EMAIL)


def test_an_email_refused_for_good_offers_no_retry(ticket_settings, refusing_smtp, billing_client, monkeypatch):
    offer_accounting(monkeypatch, None)
    set_preferences(email=True, ticket=False)
    email = _email_to_poc()
    assert delivery_attempt(email.pk).status == "failed"
    email.refresh_from_db()
    assert email.status == DeliveryStatus.FAILED and "refused the recipients" in email.reason
    retry_url = reverse("notifications:retry", args=[email.pk])

    log = billing_client.get(LOG).content.decode()
    assert retry_url not in log and "Retrying would fail the same way" in log
    detail = billing_client.get(reverse("notifications:detail", args=[email.notification_id])).content.decode()
    assert retry_url not in detail and "Correct the address in BMS" in detail

    response = billing_client.post(retry_url, follow=True)
    assert "sending it again would fail the same way" in response.content.decode()
    email.refresh_from_db()
    assert email.status == DeliveryStatus.FAILED and email.attempts == 1


def test_an_email_that_gave_up_after_transient_errors_still_offers_retry(
    ticket_settings, billing_client, monkeypatch, settings
):
    offer_accounting(monkeypatch, None)
    set_preferences(email=True, ticket=False)
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
    settings.NOTIFICATIONS_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with socket.socket() as sock:  # a port nobody listens on: connection refused, a transient error
        sock.bind(("127.0.0.1", 0))
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sock.getsockname()[1]
    email = _email_to_poc()
    assert delivery_attempt(email.pk).status == "failed"
    email.refresh_from_db()
    assert email.reason.startswith("Gave up after 1 attempts")
    retry_url = reverse("notifications:retry", args=[email.pk])
    assert retry_url in billing_client.get(LOG).content.decode()
    billing_client.post(retry_url)
    email.refresh_from_db()
    assert email.status == DeliveryStatus.PENDING
