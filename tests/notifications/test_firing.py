"""Firing: who a notification goes to (the billing-contact fallback chain), why a channel sends
nothing, an event fired once, and the channel table every delivery goes through."""

import pytest
from django.core import mail

from notifications.channels import channel_for
from notifications.channels.email import EmailChannel
from notifications.channels.psa_ticket import PsaTicketChannel
from notifications.firing import notification_fire
from notifications.models import Channel, DeliveryStatus, Notification
from notifications.types import NotificationKind
from tests.notifications.conftest import deliver_all, offer_accounting, org_with, set_preferences
from tests.notifications.fault_channels import CrashAfterTicketCreated, ticket_channel_setting

pytestmark = pytest.mark.django_db


class FakeAccounting:
    name = "Xero"

    def __init__(self, emails):
        self.emails = emails
        self.asked = []

    def billing_contact_emails(self, organization):
        self.asked.append(organization.pk)
        return self.emails


@pytest.mark.parametrize(
    ("kind_of_org", "accounting", "expected_source"),
    [
        ("recipient", None, "BMS invoice recipient"),
        ("poc", None, "BMS point of contact"),
        ("none", ["ap@client.example"], "Xero billing contact"),
        ("none", None, None),
        ("none", [], None),
    ],
    ids=["bms-invoice-recipient", "bms-point-of-contact", "accounting-package", "none-no-package", "none-empty"],
)
def test_billing_contact_fallback_chain(ticket_settings, monkeypatch, kind_of_org, accounting, expected_source):
    set_preferences(email=True, ticket=False)
    org = org_with(kind_of_org)
    fake = FakeAccounting(accounting) if accounting is not None else None
    offer_accounting(monkeypatch, fake)

    notification = notification_fire(
        NotificationKind.NEW_INVOICE, invoice=org.invoices.order_by("-invoice_date").first()
    )
    email = deliver_all(notification)[Channel.EMAIL]

    if expected_source is None:
        assert email.status == DeliveryStatus.SKIPPED
        assert "No email sent" in email.reason and str(org) in email.reason
        if fake is None:
            assert "no accounting package is integrated" in email.reason
        else:
            assert "Xero has no billing contact" in email.reason
        assert mail.outbox == []
    else:
        assert email.status == DeliveryStatus.SENT, email.errors
        assert email.recipient_source == expected_source
        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == email.recipients
        if kind_of_org == "none":
            assert email.recipients == ["ap@client.example"] and fake.asked == [org.pk]
        else:
            flag = "receives_invoices" if kind_of_org == "recipient" else "is_poc"
            expected = set(
                org.contact_set.filter(**{flag: True}, deleted_at__isnull=True)
                .exclude(email="")
                .values_list("email", flat=True)
            )
            assert set(email.recipients) == expected


def test_bms_not_connected_records_why_no_ticket(db, admin_user):
    set_preferences(email=True, ticket=True)
    notification = notification_fire(NotificationKind.SYNC_NOT_RUNNING, context={"reason": "No sync."})
    deliveries = {d.channel: d for d in notification.deliveries.all()}
    assert deliveries[Channel.TICKET].status == DeliveryStatus.SKIPPED
    assert deliveries[Channel.TICKET].reason == "BMS is not connected, so ticket creation is off."
    assert deliveries[Channel.EMAIL].recipients == [admin_user.email]  # no staff recipients: Master Admins


def test_same_event_fires_once(ticket_settings):
    org = org_with("poc")
    first = notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org, event_key="autopay:1")
    again = notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org, event_key="autopay:1")
    assert first.pk == again.pk
    assert Notification.objects.count() == 1


def test_every_channel_is_sent_by_the_class_the_settings_name(settings):
    assert isinstance(channel_for(Channel.EMAIL), EmailChannel)
    assert isinstance(channel_for(Channel.TICKET), PsaTicketChannel)
    settings.NOTIFICATIONS_CHANNELS = ticket_channel_setting(CrashAfterTicketCreated)
    assert isinstance(channel_for(Channel.TICKET), CrashAfterTicketCreated)  # resolved again on a change
    assert isinstance(channel_for(Channel.EMAIL), EmailChannel)
