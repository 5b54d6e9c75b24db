"""A real Celery worker process on the test database, a real Redis broker, the BMS sandbox
over HTTP and a loopback SMTP server: what comes out is exactly what was asked for."""

import itertools
import time

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse

from connectbooster.celery import app
from notifications.events import access_requested_notify
from notifications.firing import notification_fire
from notifications.models import Channel, Delivery, DeliveryStatus, Notification
from notifications.tasks import deliver_ticket_task
from notifications.types import SPECS, Audience, NotificationKind
from organizations.models import Organization
from portal.services import access_request_create
from tests.notifications.conftest import (
    ADDRESS_FORMS,
    AFTER_THE_CRASH,
    TICKET_CONFIG,
    assert_fault_fired,
    invoice_recipient_whose_email_has,
    org_with,
    set_preferences,
    start_worker,
    tickets_with_key,
    wait_until,
)
from tests.notifications.fault_channels import DnsFailsOnFirstAttempt, ExitAfterTicketCreated, ticket_channel_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

OPEN = ("pending", "sending", "retrying")


def _all_done(timeout=120):
    wait_until(
        lambda: not Delivery.objects.filter(status__in=OPEN).exists(),
        timeout=timeout,
        message="every delivery to finish",
    )


def _fire(kind, org, invoice):
    spec = SPECS[kind]
    if spec.audience == Audience.INTERNAL:
        return notification_fire(kind, context={"reason": "Test reason", "source": "Demo MSP"})
    return notification_fire(
        kind,
        organization=org,
        invoice=invoice if spec.concerns_invoice else None,
        context={"amount": "42.00", "reason": "Test reason", "requester_email": "x@client.example"},
    )


def test_every_type_with_every_combination_of_check_boxes(ticket_settings, bms_sandbox, smtp_server, notif_worker):
    org = org_with("recipient")
    invoice = org.invoices.order_by("-invoice_date").first()
    fired = []
    for email_on, ticket_on in itertools.product([True, False], repeat=2):
        set_preferences(email_on, ticket_on)
        for kind in NotificationKind.values:
            fired.append((kind, email_on, ticket_on, _fire(kind, org, invoice)))
    _all_done()

    tickets = bms_sandbox.control.records("tickets")
    by_ref = {}
    for rcpts, msg in smtp_server.messages:
        by_ref.setdefault(msg["X-Portal-Ref"], []).append((rcpts, msg))
    for kind, email_on, ticket_on, notification in fired:
        deliveries = {d.channel: d for d in notification.deliveries.all()}
        email, ticket = deliveries[Channel.EMAIL], deliveries[Channel.TICKET]
        label = f"{kind} email={email_on} ticket={ticket_on}"
        sent_mail = by_ref.get(email.dedupe_key, [])
        if email_on:
            assert email.status == DeliveryStatus.SENT, (label, email.errors)
            assert len(sent_mail) == 1, label
            expected_to = ["ops@msp.example", "finance@msp.example"] if SPECS[kind].is_internal else email.recipients
            assert sorted(sent_mail[0][0]) == sorted(expected_to), label
        else:
            assert email.status == DeliveryStatus.SKIPPED and sent_mail == [], label
        found = [t for t in tickets if ticket.marker in (t.get("details") or "")]
        if ticket_on:
            assert ticket.status == DeliveryStatus.SENT, (label, ticket.errors)
            assert len(found) == 1, label
            expected_account = (
                ticket_settings.internal_account_id if SPECS[kind].audience == Audience.INTERNAL else org.bms_id
            )
            t = found[0]
            assert t["accountId"] == expected_account, label
            assert t["ticketNumber"] == ticket.bms_ticket_number
            assert (
                t["queueId"],
                t["priorityId"],
                t["issueTypeId"],
                t["subIssueTypeId"],
                t["statusId"],
                t["typeId"],
                t["sourceId"],
            ) == tuple(TICKET_CONFIG.values()), label
        else:
            assert ticket.status == DeliveryStatus.SKIPPED and found == [], label
    # Nothing else was sent.
    assert len(smtp_server.messages) == 2 * len(NotificationKind.values)  # e-mail on in 2 of the 4 combinations
    assert len([t for t in tickets if "[portal-ref:" in (t.get("details") or "")]) == 2 * len(NotificationKind.values)


@pytest.mark.parametrize("after_the_crash", AFTER_THE_CRASH.values(), ids=AFTER_THE_CRASH.keys())
def test_hardening_15_worker_killed_after_bms_created_the_ticket(
    ticket_settings, bms_sandbox, notif_worker_env, after_the_crash, transactional_db, settings
):
    """The worker process exits right after BMS answered and before the portal committed; the
    message (acknowledged late) is redelivered to a new worker, which finds the ticket by its key,
    whatever BMS does to its search (each case's fault is checked to have fired)."""
    faults, expected_fault = after_the_crash
    app.control.purge()
    settings.NOTIFICATIONS_LEASE_SECONDS = 3
    set_preferences(email=False, ticket=True)
    crashing = start_worker({**notif_worker_env, **ticket_channel_env(ExitAfterTicketCreated)})
    try:
        notification = notification_fire(NotificationKind.INVOICE_PAST_DUE, invoice=org_with("poc").invoices.first())
        delivery = notification.deliveries.get(channel=Channel.TICKET)
        wait_until(lambda: not crashing.alive, timeout=60, message="the worker to exit")
    finally:
        crashing.stop()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENDING and not delivery.bms_ticket_id
    assert len(tickets_with_key(bms_sandbox.control, delivery.dedupe_key)) == 1

    # The unacknowledged message becomes visible again after the broker's visibility timeout
    # (2 s here); a new worker restores it when it starts.
    bms_sandbox.control.set_faults(**faults)
    time.sleep(3)
    worker = start_worker(notif_worker_env)
    try:
        wait_until(
            lambda: Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT,
            timeout=60,
            message="the redelivered task",
        )
    finally:
        worker.stop()
    bms_sandbox.control.clear_faults()
    assert_fault_fired(bms_sandbox.control, expected_fault)
    delivery.refresh_from_db()
    [ticket] = tickets_with_key(bms_sandbox.control, delivery.dedupe_key)
    assert delivery.adopted and delivery.bms_ticket_number == ticket["ticketNumber"]


def test_task_delivered_twice_creates_one_ticket(ticket_settings, bms_sandbox, notif_worker):
    set_preferences(email=False, ticket=True)
    notification = notification_fire(
        NotificationKind.PAYMENT_FAILED,
        organization=org_with("poc"),
        context={"amount": "9.99", "reason": "Card expired"},
    )
    delivery = notification.deliveries.get(channel=Channel.TICKET)
    for _ in range(3):  # on top of the one notification_fire queued
        deliver_ticket_task.delay(delivery.pk)
    _all_done()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert len(tickets_with_key(bms_sandbox.control, delivery.dedupe_key)) == 1


# One draw per request to the tickets paths: a draw below 0.2 is a 503, from 0.2 to 0.5 a lost
# answer. The first request is the POST that creates a ticket, and these seeds' first draw
# (0.238, 0.236, 0.227, 0.259) loses its answer, so every case meets a lost answer (seed 5,
# once here, drew 0.623, 0.742, 0.795 for the three creations and met no fault at all).
LOST_ANSWER_SEEDS = [3, 4, 8, 13]


@pytest.mark.parametrize("seed", LOST_ANSWER_SEEDS)
def test_hardening_15_lost_answers_and_5xx_through_the_worker_leave_one_ticket(
    ticket_settings, bms_sandbox, notif_worker, seed
):
    set_preferences(email=False, ticket=True)
    bms_sandbox.control.set_faults(
        drop_after_rate=0.3, error_rate=0.2, fault_seed=seed, paths=["/v2/servicedesk/tickets"], include_auth=False
    )
    notifications = [
        notification_fire(NotificationKind.NEW_INVOICE, invoice=inv) for inv in org_with("recipient").invoices.all()[:3]
    ]
    _all_done()
    bms_sandbox.control.clear_faults()
    fired = bms_sandbox.control.faults_fired()
    assert fired.get("drop_after POST /v2/servicedesk/tickets", 0) >= 1, fired
    deliveries = [n.deliveries.get(channel=Channel.TICKET) for n in notifications]
    for delivery in deliveries:
        assert delivery.status == DeliveryStatus.SENT, delivery.errors
        assert len(tickets_with_key(bms_sandbox.control, delivery.dedupe_key)) == 1
    # Each lost creation answer was made good by adopting the ticket, not by opening another.
    assert sum(d.adopted for d in deliveries) == fired["drop_after POST /v2/servicedesk/tickets"]


def test_bms_errors_end_as_the_log_says(ticket_settings, bms_sandbox, notif_worker, admin_client):
    set_preferences(email=False, ticket=True)
    # A priority BMS rejects: fails at once, with the reason, no retry.
    ticket_settings.priority_id = 77
    ticket_settings.save()
    rejected = notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org_with("poc"))
    _all_done()
    delivery = rejected.deliveries.get(channel=Channel.TICKET)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    page = admin_client.get(reverse("notifications:log")).content.decode()
    assert "BMS rejected the ticket (PriorityId)" in page
    # The admin fixes the priority and retries from the log: one ticket.
    ticket_settings.priority_id = 2
    ticket_settings.save()
    admin_client.post(reverse("notifications:retry", args=[delivery.pk]))
    _all_done()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
    assert len(tickets_with_key(bms_sandbox.control, delivery.dedupe_key)) == 1
    # BMS keeps answering 429: retried with backoff, then given up, and the log says so.
    bms_sandbox.control.set_faults(rate_limit_rate=1.0, retry_after=0, paths=["/v2/servicedesk/tickets"])
    limited = notification_fire(NotificationKind.PAYMENT_SCHEDULED, organization=org_with("poc"))
    _all_done(timeout=90)
    delivery = limited.deliveries.get(channel=Channel.TICKET)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 6
    assert delivery.reason.startswith("Gave up after 6 attempts: BMS rate limit reached")
    page = admin_client.get(reverse("notifications:detail", args=[limited.pk])).content.decode()
    assert "Gave up after 6 attempts" in page
    bms_sandbox.control.clear_faults()
    assert tickets_with_key(bms_sandbox.control, delivery.dedupe_key) == []
    assert Notification.objects.count() == 2


@pytest.mark.parametrize(
    "sandbox_anomalies", [{"multi_address_emails": True, "newline_names": True}], ids=["bms-anomalies"]
)
def test_hardening_1_every_delivery_ends_sent_or_failed_with_the_reason_through_the_worker(
    ticket_settings, bms_integration, bms_sandbox, smtp_server, notif_worker_env, transactional_db, settings
):
    """Through a real worker: BMS e-mail fields with two addresses (or an invalid one), line
    breaks in an access request's name and in BMS names, a DNS failure while building the BMS
    client on every ticket's first attempt, then a password the keys cannot read. Before, the
    first three left deliveries "Sending" for good (the test timed out waiting for them)."""
    app.control.purge()
    settings.NOTIFICATIONS_LEASE_SECONDS = 3
    set_preferences(email=True, ticket=True)
    worker = start_worker({**notif_worker_env, **ticket_channel_env(DnsFailsOnFirstAttempt)})
    try:
        fired = [
            notification_fire(
                NotificationKind.NEW_INVOICE,
                invoice=invoice_recipient_whose_email_has(tail).organization.invoices.order_by("-pk").first(),
            )
            for tail in ADDRESS_FORMS.values()
        ]
        request = access_request_create(email="eve@client.example", full_name="Eve\nBcc: victim@evil.example")
        fired.append(access_requested_notify(access_request=request))
        org = next(o for o in Organization.objects.order_by("bms_id") if "\n" in o.name)
        fired.append(notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org, context={"reason": "x"}))
        _all_done(timeout=90)

        for notification in fired:
            email, ticket = (notification.deliveries.get(channel=c) for c in (Channel.EMAIL, Channel.TICKET))
            assert email.status in (DeliveryStatus.SENT, DeliveryStatus.SKIPPED), (notification, email.errors)
            assert email.attempts <= 1
            # The DNS failure: retried with the reason, then sent, one ticket.
            assert ticket.status == DeliveryStatus.SENT and ticket.attempts == 2, ticket.errors
            assert "DNS lookup failed" in ticket.errors[0]["error"]
            assert len(tickets_with_key(bms_sandbox.control, ticket.dedupe_key)) == 1
        sent_to = [rcpt for rcpt_tos, _message in smtp_server.messages for rcpt in rcpt_tos]
        assert all("," not in r and ";" not in r and " " not in r for r in sent_to), sent_to
        assert "victim@evil.example" not in sent_to
        subjects = [message["Subject"] for _rcpt_tos, message in smtp_server.messages]
        assert "Portal access requested by Eve Bcc: victim@evil.example" in subjects

        # The stored password becomes unreadable (encrypted under a key no longer configured).
        integration = bms_integration
        integration.refresh_from_db()
        integration.encrypted_secrets["password"] = Fernet(Fernet.generate_key()).encrypt(b"old").decode()
        integration.save(update_fields=["encrypted_secrets"])
        unreadable = notification_fire(NotificationKind.PAYMENT_SCHEDULED, organization=org_with("poc"))
        _all_done(timeout=60)
        ticket = unreadable.deliveries.get(channel=Channel.TICKET)
        assert ticket.status == DeliveryStatus.FAILED and "cannot be decrypted" in ticket.reason, ticket.errors
        assert ticket.attempts == 2  # the first met the DNS failure, the second the password
    finally:
        worker.stop()
    assert not Delivery.objects.filter(attempts__gt=6).exists()
