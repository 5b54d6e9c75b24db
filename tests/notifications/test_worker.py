"""A real Celery worker process on the test database, a real Redis broker, the BMS sandbox
over HTTP and a loopback SMTP server: what comes out is exactly what was asked for."""

import itertools
import time

import pytest
from django.urls import reverse

from connectbooster.celery import app
from notifications.firing import notification_fire
from notifications.models import Channel, Delivery, DeliveryStatus, Notification
from notifications.tasks import deliver_ticket_task
from notifications.types import SPECS, Audience, NotificationKind
from tests.notifications.conftest import (
    TICKET_CONFIG,
    org_with,
    set_preferences,
    start_worker,
    tickets_with_key,
    wait_until,
)
from tests.notifications.fault_channels import ExitAfterTicketCreated, ticket_channel_env

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
        found = [t for t in tickets if f"[portal-ref:{ticket.dedupe_key}]" in (t.get("details") or "")]
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
    assert len(smtp_server.messages) == 22
    assert len([t for t in tickets if "[portal-ref:" in (t.get("details") or "")]) == 22


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_worker_killed_after_bms_created_the_ticket(
    ticket_settings, bms_sandbox, notif_worker_env, seed, transactional_db, settings
):
    """The worker process exits right after BMS answered and before the portal committed; the
    message (acknowledged late) is redelivered to a new worker, which finds the ticket by its key."""
    app.control.purge()
    settings.NOTIFICATIONS_LEASE_SECONDS = 3
    set_preferences(email=False, ticket=True)
    bms_sandbox.control.set_faults(latency_ms=seed * 7, fault_seed=seed)
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


@pytest.mark.parametrize("seed", [3, 5, 8, 13])
def test_lost_answers_and_5xx_through_the_worker_leave_one_ticket(ticket_settings, bms_sandbox, notif_worker, seed):
    set_preferences(email=False, ticket=True)
    bms_sandbox.control.set_faults(
        drop_after_rate=0.3, error_rate=0.2, fault_seed=seed, paths=["/v2/servicedesk/tickets"], include_auth=False
    )
    notifications = [
        notification_fire(NotificationKind.NEW_INVOICE, invoice=inv) for inv in org_with("recipient").invoices.all()[:3]
    ]
    _all_done()
    bms_sandbox.control.clear_faults()
    for notification in notifications:
        delivery = notification.deliveries.get(channel=Channel.TICKET)
        assert delivery.status == DeliveryStatus.SENT, delivery.errors
        assert len(tickets_with_key(bms_sandbox.control, delivery.dedupe_key)) == 1


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
