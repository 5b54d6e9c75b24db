"""The service-ticket channel in-process against the sandbox: the configured fields, the account,
BMS's defaults and errors, and exactly one ticket however the attempts end."""

import pytest
from django.core import mail

from notifications.delivery import delivery_attempt
from notifications.firing import notification_fire
from notifications.models import Channel, Delivery, DeliveryStatus
from notifications.types import NotificationKind
from tests.notifications.conftest import (
    AFTER_THE_CRASH,
    TICKET_CONFIG,
    assert_fault_fired,
    deliver_all,
    org_with,
    set_preferences,
    tickets_with_key,
)
from tests.notifications.fault_channels import CrashAfterTicketCreated, SimulatedCrash, ticket_channel_setting

pytestmark = pytest.mark.django_db


def _invoice_of(org):
    return org.invoices.order_by("-invoice_date").first()


def test_ticket_is_created_with_the_configured_fields(ticket_settings, bms_sandbox):
    set_preferences(email=False, ticket=True)
    org = org_with("recipient")
    invoice = _invoice_of(org)
    notification = notification_fire(NotificationKind.INVOICE_PAST_DUE, invoice=invoice, context={"days_past_due": 15})
    ticket_delivery = deliver_all(notification)[Channel.TICKET]
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
    notification = notification_fire(
        NotificationKind.SYNC_FAILED, context={"reason": "BMS refused the sign-in.", "source": "Demo"}
    )
    deliveries = deliver_all(notification)
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
    notification = notification_fire(
        NotificationKind.PAYMENT_SUCCESSFUL, organization=org_with("poc"), context={"amount": "12.50"}
    )
    delivery = deliver_all(notification)[Channel.TICKET]
    [ticket] = tickets_with_key(bms_sandbox.control, delivery.dedupe_key)
    assert (ticket["priorityId"], ticket["statusId"], ticket["typeId"], ticket["sourceId"]) == (2, 1, 1, 1)
    assert "12.50" in ticket["title"]


def test_rejected_priority_fails_at_once_with_the_reason(ticket_settings, bms_sandbox):
    ticket_settings.priority_id = 99
    ticket_settings.save()
    set_preferences(email=False, ticket=True)
    notification = notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org_with("poc"))
    delivery = deliver_all(notification)[Channel.TICKET]
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1
    assert "BMS rejected the ticket (PriorityId)" in delivery.reason
    assert tickets_with_key(bms_sandbox.control, delivery.dedupe_key) == []


def test_5xx_retries_then_succeeds_once(ticket_settings, bms_sandbox, settings):
    set_preferences(email=False, ticket=True)
    notification = notification_fire(
        NotificationKind.PAYMENT_FAILED,
        organization=org_with("poc"),
        context={"amount": "10", "reason": "Card declined"},
    )
    delivery = notification.deliveries.get(channel=Channel.TICKET)
    bms_sandbox.control.set_faults(error_rate=1.0, paths=["/v2/servicedesk/tickets"])
    outcome = delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert outcome.status == "retrying" and outcome.retry_in > 0
    assert delivery.status == DeliveryStatus.RETRYING
    assert "HTTP 503" in delivery.last_error
    bms_sandbox.control.clear_faults()
    assert delivery_attempt(delivery.pk).status == "sent"
    assert len(tickets_with_key(bms_sandbox.control, delivery.dedupe_key)) == 1


def test_429_gives_up_after_the_maximum_attempts(ticket_settings, bms_sandbox, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    set_preferences(email=False, ticket=True)
    notification = notification_fire(NotificationKind.PAYMENT_SCHEDULED, organization=org_with("poc"))
    delivery = notification.deliveries.get(channel=Channel.TICKET)
    bms_sandbox.control.set_faults(rate_limit_rate=1.0, retry_after=1, paths=["/v2/servicedesk/tickets"])
    outcomes = [delivery_attempt(delivery.pk) for _ in range(3)]
    assert [o.status for o in outcomes] == ["retrying", "retrying", "failed"]
    assert all(o.retry_in >= 1 for o in outcomes[:2])  # Retry-After honoured
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason.startswith("Gave up after 3 attempts: BMS rate limit reached")
    assert len(delivery.errors) == 3
    bms_sandbox.control.clear_faults()
    assert tickets_with_key(bms_sandbox.control, delivery.dedupe_key) == []


# drop_after_rate 0.5 draws once per request to the tickets paths, and the first such request
# is the POST that creates the ticket: these seeds draw below 0.5 first, so its answer is lost
# (seeds 2 and 5, once here, drew above and never lost one). After it, seeds 1, 3 and 12 find
# the ticket at the first search; 7 and 9 lose search answers too (draws 0.151; 0.373, 0.139).
LOST_CREATION_ANSWER_SEEDS = [1, 3, 7, 9, 12]


@pytest.mark.parametrize("seed", LOST_CREATION_ANSWER_SEEDS)
def test_hardening_15_lost_answer_after_bms_created_the_ticket_leaves_one_ticket(ticket_settings, bms_sandbox, seed):
    """drop_after: BMS processes the POST, then the connection closes (the answer is lost).
    Every seed loses the creation's answer, and the test checks that it did."""
    set_preferences(email=False, ticket=True)
    notification = notification_fire(NotificationKind.PAYMENT_METHOD_CHANGED, organization=org_with("poc"))
    delivery = notification.deliveries.get(channel=Channel.TICKET)
    bms_sandbox.control.set_faults(
        drop_after_rate=0.5, fault_seed=seed, paths=["/v2/servicedesk/tickets"], include_auth=False
    )
    for _ in range(8):
        if delivery_attempt(delivery.pk).status in ("sent", "adopted"):
            break
    bms_sandbox.control.clear_faults()
    fired = bms_sandbox.control.faults_fired()
    assert fired.get("drop_after POST /v2/servicedesk/tickets") == 1, fired  # the creation's answer was lost
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT, delivery.errors
    assert delivery.adopted  # found by its marker, not created again
    [ticket] = tickets_with_key(bms_sandbox.control, delivery.dedupe_key)
    assert ticket["ticketNumber"] == delivery.bms_ticket_number


@pytest.mark.parametrize("after_the_crash", AFTER_THE_CRASH.values(), ids=AFTER_THE_CRASH.keys())
def test_hardening_15_crash_between_bms_answer_and_local_commit_adopts_the_ticket(
    ticket_settings, bms_sandbox, settings, after_the_crash
):
    faults, expected_fault = after_the_crash
    set_preferences(email=False, ticket=True)
    notification = notification_fire(NotificationKind.NEW_INVOICE, invoice=_invoice_of(org_with("recipient")))
    delivery = notification.deliveries.get(channel=Channel.TICKET)

    real_channels = settings.NOTIFICATIONS_CHANNELS
    settings.NOTIFICATIONS_CHANNELS = ticket_channel_setting(CrashAfterTicketCreated)
    with pytest.raises(SimulatedCrash):
        delivery_attempt(delivery.pk)
    settings.NOTIFICATIONS_CHANNELS = real_channels
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENDING and not delivery.bms_ticket_id
    assert len(tickets_with_key(bms_sandbox.control, delivery.dedupe_key)) == 1
    # The redelivered task: the lease still holds, so it waits...
    assert delivery_attempt(delivery.pk).status == "busy"
    # ...and once it ran out, takes over, finds the ticket by its key and adopts it, whatever
    # BMS does to the search meanwhile.
    bms_sandbox.control.set_faults(**faults)
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=delivery.created_at)
    outcomes = [delivery_attempt(delivery.pk).status]
    while outcomes[-1] == "retrying" and len(outcomes) < 4:
        outcomes.append(delivery_attempt(delivery.pk).status)
    assert outcomes[-1] == "adopted", outcomes
    assert delivery_attempt(delivery.pk).status == "sent"  # a duplicate message: nothing to do
    bms_sandbox.control.clear_faults()
    assert_fault_fired(bms_sandbox.control, expected_fault)
    delivery.refresh_from_db()
    [ticket] = tickets_with_key(bms_sandbox.control, delivery.dedupe_key)
    assert delivery.adopted and delivery.bms_ticket_number == ticket["ticketNumber"]
