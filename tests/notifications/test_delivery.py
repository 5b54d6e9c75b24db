"""Deliveries run in-process against the sandbox: recipients, ticket fields, errors, exactly once."""

from types import SimpleNamespace

import pytest
from django.core import mail

from notifications import services
from notifications.models import Channel, Delivery, DeliveryStatus, Notification
from notifications.types import NotificationKind
from tests.notifications.conftest import TICKET_CONFIG, offer_accounting, org_with, set_preferences, tickets_with_key

pytestmark = pytest.mark.django_db


def _invoice_of(org):
    return org.invoices.order_by("-invoice_date").first()


def _deliveries(notification):
    return {d.channel: d for d in notification.deliveries.all()}


def _deliver(notification):
    """Run every open delivery to its end, as the worker would (retries included)."""
    for d in notification.deliveries.all():
        for _ in range(10):
            d.refresh_from_db()
            if d.status not in ("pending", "retrying", "sending"):
                break
            fn = services.delivery_send_email if d.channel == Channel.EMAIL else services.delivery_create_ticket
            fn(d.pk)
    return _deliveries(notification)


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
    if kind_of_org == "none" and accounting == []:
        fake = FakeAccounting([])
        offer_accounting(monkeypatch, fake)

    notification = services.notification_fire(NotificationKind.NEW_INVOICE, invoice=_invoice_of(org))
    email = _deliver(notification)[Channel.EMAIL]

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


def test_ticket_is_created_with_the_configured_fields(ticket_settings, bms_sandbox):
    set_preferences(email=False, ticket=True)
    org = org_with("recipient")
    invoice = _invoice_of(org)
    notification = services.notification_fire(
        NotificationKind.INVOICE_PAST_DUE, invoice=invoice, context={"days_past_due": 15}
    )
    ticket_delivery = _deliver(notification)[Channel.TICKET]
    assert ticket_delivery.status == DeliveryStatus.SENT, ticket_delivery.errors
    [ticket] = tickets_with_key(bms_sandbox.control, ticket_delivery.dedupe_key)
    assert ticket["ticketNumber"] == ticket_delivery.bms_ticket_number
    assert ticket["accountId"] == org.bms_id
    assert ticket["locationId"] == org.main_location_bms_id
    assert ticket["queueId"] == TICKET_CONFIG["queue_id"]
    assert ticket["priorityId"] == TICKET_CONFIG["priority_id"]
    assert ticket["issueTypeId"] == TICKET_CONFIG["issue_type_id"]
    assert ticket["subIssueTypeId"] == TICKET_CONFIG["sub_issue_type_id"]
    assert ticket["statusId"] == TICKET_CONFIG["status_id"]
    assert ticket["typeId"] == TICKET_CONFIG["ticket_type_id"]
    assert ticket["sourceId"] == TICKET_CONFIG["source_id"]
    assert ticket["title"] == f"Invoice {invoice.number} is past due"
    assert invoice.number in ticket["details"] and "15 days past due" in ticket["details"]
    assert "/portal/invoices/" in ticket["details"]


def test_internal_ticket_goes_to_the_msp_account(ticket_settings, bms_sandbox):
    set_preferences(email=True, ticket=True)
    notification = services.notification_fire(
        NotificationKind.SYNC_FAILED, context={"reason": "BMS refused the sign-in.", "source": "Demo"}
    )
    deliveries = _deliver(notification)
    assert deliveries[Channel.EMAIL].recipients == ["ops@msp.example", "finance@msp.example"]
    assert mail.outbox[0].subject == "Sync failed: Demo"
    [ticket] = tickets_with_key(bms_sandbox.control, deliveries[Channel.TICKET].dedupe_key)
    assert ticket["accountId"] == ticket_settings.internal_account_id
    assert "BMS refused the sign-in." in ticket["details"]


def test_unset_required_fields_use_bms_defaults(ticket_settings, bms_sandbox):
    ticket_settings.priority_id = ticket_settings.status_id = ticket_settings.ticket_type_id = None
    ticket_settings.source_id = None
    ticket_settings.save()
    set_preferences(email=False, ticket=True)
    notification = services.notification_fire(
        NotificationKind.PAYMENT_SUCCESSFUL, organization=org_with("poc"), context={"amount": "12.50"}
    )
    delivery = _deliver(notification)[Channel.TICKET]
    [ticket] = tickets_with_key(bms_sandbox.control, delivery.dedupe_key)
    assert (ticket["priorityId"], ticket["statusId"], ticket["typeId"], ticket["sourceId"]) == (2, 1, 1, 1)
    assert "12.50" in ticket["title"]


def test_rejected_priority_fails_at_once_with_the_reason(ticket_settings, bms_sandbox):
    ticket_settings.priority_id = 99
    ticket_settings.save()
    set_preferences(email=False, ticket=True)
    notification = services.notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org_with("poc"))
    delivery = _deliver(notification)[Channel.TICKET]
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1
    assert "BMS rejected the ticket (PriorityId)" in delivery.reason
    assert tickets_with_key(bms_sandbox.control, delivery.dedupe_key) == []


def test_5xx_retries_then_succeeds_once(ticket_settings, bms_sandbox, settings):
    set_preferences(email=False, ticket=True)
    notification = services.notification_fire(
        NotificationKind.PAYMENT_FAILED,
        organization=org_with("poc"),
        context={"amount": "10", "reason": "Card declined"},
    )
    delivery = notification.deliveries.get(channel=Channel.TICKET)
    bms_sandbox.control.set_faults(error_rate=1.0, paths=["/v2/servicedesk/tickets"])
    outcome = services.delivery_create_ticket(delivery.pk)
    delivery.refresh_from_db()
    assert outcome.status == "retrying" and outcome.retry_in > 0
    assert delivery.status == DeliveryStatus.RETRYING
    assert "HTTP 503" in delivery.last_error
    bms_sandbox.control.clear_faults()
    assert services.delivery_create_ticket(delivery.pk).status == "sent"
    assert len(tickets_with_key(bms_sandbox.control, delivery.dedupe_key)) == 1


def test_429_gives_up_after_the_maximum_attempts(ticket_settings, bms_sandbox, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    set_preferences(email=False, ticket=True)
    notification = services.notification_fire(NotificationKind.PAYMENT_SCHEDULED, organization=org_with("poc"))
    delivery = notification.deliveries.get(channel=Channel.TICKET)
    bms_sandbox.control.set_faults(rate_limit_rate=1.0, retry_after=1, paths=["/v2/servicedesk/tickets"])
    outcomes = [services.delivery_create_ticket(delivery.pk) for _ in range(3)]
    assert [o.status for o in outcomes] == ["retrying", "retrying", "failed"]
    assert all(o.retry_in >= 1 for o in outcomes[:2])  # Retry-After honoured
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason.startswith("Gave up after 3 attempts: BMS rate limit reached")
    assert len(delivery.errors) == 3
    bms_sandbox.control.clear_faults()
    assert tickets_with_key(bms_sandbox.control, delivery.dedupe_key) == []


class SimulatedCrash(BaseException):
    """Like a killed process: nothing catches it."""


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_lost_answer_after_bms_created_the_ticket_leaves_one_ticket(ticket_settings, bms_sandbox, seed):
    """drop_after: BMS processes the POST, then the connection closes (the answer is lost)."""
    set_preferences(email=False, ticket=True)
    notification = services.notification_fire(NotificationKind.PAYMENT_METHOD_CHANGED, organization=org_with("poc"))
    delivery = notification.deliveries.get(channel=Channel.TICKET)
    bms_sandbox.control.set_faults(
        drop_after_rate=0.5, fault_seed=seed, paths=["/v2/servicedesk/tickets"], include_auth=False
    )
    for _ in range(8):
        if services.delivery_create_ticket(delivery.pk).status in ("sent", "adopted"):
            break
    bms_sandbox.control.clear_faults()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT, delivery.errors
    [ticket] = tickets_with_key(bms_sandbox.control, delivery.dedupe_key)
    assert ticket["ticketNumber"] == delivery.bms_ticket_number


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_crash_between_bms_answer_and_local_commit_adopts_the_ticket(
    ticket_settings, bms_sandbox, monkeypatch, settings, seed
):
    set_preferences(email=False, ticket=True)
    notification = services.notification_fire(NotificationKind.NEW_INVOICE, invoice=_invoice_of(org_with("recipient")))
    delivery = notification.deliveries.get(channel=Channel.TICKET)

    def crash(d, ticket):
        raise SimulatedCrash()

    monkeypatch.setattr(services, "AFTER_TICKET_CREATED", crash)
    bms_sandbox.control.set_faults(latency_ms=seed, fault_seed=seed)
    with pytest.raises(SimulatedCrash):
        services.delivery_create_ticket(delivery.pk)
    monkeypatch.setattr(services, "AFTER_TICKET_CREATED", None)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENDING and not delivery.bms_ticket_id
    # The redelivered task: the lease still holds, so it waits...
    assert services.delivery_create_ticket(delivery.pk).status == "busy"
    # ...and once it ran out, takes over, finds the ticket by its key and adopts it.
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=delivery.created_at)
    assert services.delivery_create_ticket(delivery.pk).status == "adopted"
    assert services.delivery_create_ticket(delivery.pk).status == "sent"  # a duplicate message: nothing to do
    delivery.refresh_from_db()
    [ticket] = tickets_with_key(bms_sandbox.control, delivery.dedupe_key)
    assert delivery.adopted and delivery.bms_ticket_number == ticket["ticketNumber"]


def test_sent_email_is_never_sent_again(ticket_settings):
    set_preferences(email=True, ticket=False)
    notification = services.notification_fire(
        NotificationKind.PAYMENT_SUCCESSFUL, organization=org_with("poc"), context={"amount": "5"}
    )
    email = notification.deliveries.get(channel=Channel.EMAIL)
    assert services.delivery_send_email(email.pk).status == "sent"
    assert services.delivery_send_email(email.pk).status == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"].startswith(f"<{notification.uuid}.email@")


def test_bms_not_connected_records_why_no_ticket(db, admin_user):
    set_preferences(email=True, ticket=True)
    notification = services.notification_fire(NotificationKind.SYNC_NOT_RUNNING, context={"reason": "No sync."})
    deliveries = _deliveries(notification)
    assert deliveries[Channel.TICKET].status == DeliveryStatus.SKIPPED
    assert deliveries[Channel.TICKET].reason == "BMS is not connected, so ticket creation is off."
    assert deliveries[Channel.EMAIL].recipients == [admin_user.email]  # no staff recipients: Master Admins


def test_same_event_fires_once(ticket_settings):
    org = org_with("poc")
    first = services.notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org, event_key="autopay:1")
    again = services.notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org, event_key="autopay:1")
    assert first.pk == again.pk
    assert Notification.objects.count() == 1


def test_billing_signals_become_notifications(ticket_settings):
    from billing.signals import invoice_comment_posted
    from portal.signals import portal_access_requested

    set_preferences(email=True, ticket=False)
    org = org_with("recipient")
    invoice = _invoice_of(org)
    comment = SimpleNamespace(
        pk=7,
        invoice=invoice,
        author=SimpleNamespace(full_name="Pat Client", email="pat@client.example"),
        author_name="",
        body="Why is line 2 here?",
    )
    invoice_comment_posted.send(sender=None, comment=comment)
    request = SimpleNamespace(
        pk=3,
        email="new@client.example",
        full_name="New Person",
        organization=None,
        message="Please let me in",
        company="Client Co",
    )
    portal_access_requested.send(sender=None, access_request=request)
    commented = Notification.objects.get(kind=NotificationKind.CLIENT_COMMENTED)
    assert commented.organization == org and commented.invoice == invoice
    assert commented.deliveries.get(channel=Channel.EMAIL).recipients == ["ops@msp.example", "finance@msp.example"]
    _deliver(commented)
    assert "Why is line 2 here?" in mail.outbox[0].body
    access = Notification.objects.get(kind=NotificationKind.PORTAL_ACCESS_REQUESTED)
    assert access.organization is None and access.context["requester_email"] == "new@client.example"
