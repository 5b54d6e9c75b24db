"""Issue 10, items 1 and 2, in-process against the BMS sandbox over HTTP and a loopback SMTP
server: every delivery ends Sent, Retrying or Failed with the reason whatever is raised, and no
text a client writes can make a retry adopt a ticket that is not its own."""

import contextlib
import re
from datetime import timedelta

import pytest
import requests
from cryptography.fernet import Fernet
from django.utils import timezone

from billing.services import invoice_comment_create
from notifications import markers, rendering
from notifications.delivery import delivery_attempt
from notifications.events import access_requested_notify, comment_posted_notify
from notifications.firing import notification_fire
from notifications.models import Channel, Delivery, DeliveryStatus
from notifications.types import NotificationKind
from organizations.models import Organization
from portal.services import access_request_create
from providers.kaseya_bms import installation as bms_installation
from tests.notifications.conftest import (
    ADDRESS_FORMS,
    deliver_all,
    invoice_recipient_whose_email_has,
    org_with,
    set_preferences,
    tickets_with_key,
)
from tests.notifications.fault_channels import (
    DiesWhileSending,
    SimulatedCrash,
    ticket_channel_setting,
    vet_server_url_while_dns_is_down,
)

pytestmark = pytest.mark.django_db

# --- item 1: deliveries stuck in "Sending" forever -----------------------------------------------


@pytest.mark.parametrize("sandbox_anomalies", [{"multi_address_emails": True}], ids=["multi-address-emails"])
def test_hardening_1_bms_email_field_with_two_addresses_is_split_and_validated(ticket_settings, smtp_settings, caplog):
    """Input: BMS contacts whose e-mail field holds ``a@x, b@y``, ``a@x; b@y`` and
    ``a@x; not an address``. Before: Django's SMTP backend raised ValueError, which escaped
    the attempt and left the delivery "Sending"."""
    set_preferences(email=True, ticket=False)
    for form, tail in ADDRESS_FORMS.items():
        contact = invoice_recipient_whose_email_has(tail)
        invoice = contact.organization.invoices.order_by("-invoice_date").first()
        email = notification_fire(NotificationKind.NEW_INVOICE, invoice=invoice).deliveries.get(channel=Channel.EMAIL)

        assert delivery_attempt(email.pk).status == "sent", form
        email.refresh_from_db()
        assert email.status == DeliveryStatus.SENT and email.attempts == 1, (form, email.errors)
        pieces = [p.strip() for p in re.split(r"[,;]", contact.email)]
        valid = [p for p in pieces if p != "not an address"]
        assert len(valid) == (1 if form == "one invalid" else 2), form
        assert set(valid) <= set(email.recipients), (form, email.recipients)
        assert all(re.fullmatch(r"[^\s,;<>]+@[^\s,;<>]+", r) for r in email.recipients), email.recipients
        rcpt_tos, message = smtp_settings.messages[-1]
        assert sorted(rcpt_tos) == sorted(email.recipients), form
        assert message["X-Portal-Ref"] == email.dedupe_key
    assert "Skipped an invalid e-mail address" in caplog.text and "not an address" in caplog.text


@pytest.mark.parametrize("sandbox_anomalies", [{"newline_names": True}], ids=["newline-names"])
def test_hardening_1_line_breaks_in_names_never_reach_a_mail_header(ticket_settings, smtp_settings, bms_sandbox):
    """Input: an access request whose name is ``Eve\\r\\nBcc: victim@evil.example``, and BMS
    account names with ``\\n`` and ``\\r\\n``. Before: the Subject header raised BadHeaderError,
    which escaped the attempt and left the delivery "Sending"."""
    set_preferences(email=True, ticket=True)
    request = access_request_create(
        email="eve@client.example", full_name="Eve\r\nBcc: victim@evil.example", message="Line one\nLine two"
    )
    deliveries = deliver_all(access_requested_notify(access_request=request))

    email, ticket = deliveries[Channel.EMAIL], deliveries[Channel.TICKET]
    assert email.status == DeliveryStatus.SENT and email.attempts == 1, email.errors
    [(rcpt_tos, message)] = smtp_settings.messages
    assert message["Subject"] == "Portal access requested by Eve Bcc: victim@evil.example"
    assert message["Bcc"] is None and "victim@evil.example" not in rcpt_tos
    assert sorted(rcpt_tos) == ["finance@msp.example", "ops@msp.example"]
    assert "Line one\r\nLine two" in message.get_body(("plain",)).get_content()  # the body keeps its lines
    assert ticket.status == DeliveryStatus.SENT, ticket.errors
    [bms_ticket] = tickets_with_key(bms_sandbox.control, ticket.dedupe_key)
    assert bms_ticket["title"] == "Portal access requested by Eve Bcc: victim@evil.example"

    # Organizations synced with a line break in their BMS name: both channels go out.
    for brk in ("\r\n", "\n"):
        org = next(o for o in Organization.objects.order_by("bms_id") if brk in o.name)
        notification = notification_fire(
            NotificationKind.PAYMENT_FAILED, organization=org, context={"amount": "5", "reason": "Card\nexpired"}
        )
        for channel, delivery in deliver_all(notification).items():
            assert delivery.status in (DeliveryStatus.SENT, DeliveryStatus.SKIPPED), (channel, delivery.errors)
            assert delivery.attempts <= 1


_dns_down = vet_server_url_while_dns_is_down


def _connection_error(url, **kwargs):
    raise requests.ConnectionError("Connection aborted: name resolution failed")


@pytest.mark.parametrize("failure", [_dns_down, _connection_error], ids=["gaierror-in-vet_server_url", "requests"])
def test_hardening_1_momentary_dns_failure_building_the_bms_client_is_retried(
    ticket_settings, bms_sandbox, monkeypatch, settings, failure
):
    """Input: the BMS client factory raising InvalidServerUrl (from socket.gaierror) or a
    requests ConnectionError. Before: neither is an IntegrationError, so it escaped the
    attempt and the delivery stayed "Sending" with no reason."""
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    set_preferences(email=False, ticket=True)
    real_vet = bms_installation.vet_server_url
    monkeypatch.setattr(bms_installation, "vet_server_url", failure)
    notification = notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org_with("poc"))
    delivery = notification.deliveries.get(channel=Channel.TICKET)

    before = timezone.now()
    outcome = delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert outcome.status == "retrying" and outcome.retry_in > 0
    assert delivery.status == DeliveryStatus.RETRYING and delivery.next_attempt_at > before
    expected = "DNS lookup failed" if failure is _dns_down else "name resolution failed"
    assert expected in delivery.last_error
    # DNS answers again: the next attempt creates the ticket, once.
    monkeypatch.setattr(bms_installation, "vet_server_url", real_vet)
    assert delivery_attempt(delivery.pk).status == "sent"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
    assert len(tickets_with_key(bms_sandbox.control, delivery.dedupe_key)) == 1

    # DNS stays down: retried up to the maximum, then failed with the reason.
    monkeypatch.setattr(bms_installation, "vet_server_url", failure)
    notification = notification_fire(NotificationKind.PAYMENT_METHOD_CHANGED, organization=org_with("poc"))
    delivery = notification.deliveries.get(channel=Channel.TICKET)
    outcomes = [delivery_attempt(delivery.pk).status for _ in range(5)]
    assert outcomes == ["retrying", "retrying", "failed", "failed", "failed"]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3
    assert delivery.reason.startswith("Gave up after 3 attempts:") and expected in delivery.reason


def test_hardening_1_password_the_keys_cannot_read_fails_with_the_reason(ticket_settings, bms_sandbox, settings):
    """Input: the stored BMS password encrypted under a key no longer in FIELD_ENCRYPTION_KEYS.
    Before: SecretUnreadable escaped the attempt and the delivery stayed "Sending"."""
    set_preferences(email=True, ticket=True)
    invoice = org_with("recipient").invoices.order_by("-invoice_date").first()
    notification = notification_fire(NotificationKind.NEW_INVOICE, invoice=invoice)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    deliveries = deliver_all(notification)
    ticket, email = deliveries[Channel.TICKET], deliveries[Channel.EMAIL]
    assert ticket.status == DeliveryStatus.FAILED and ticket.attempts == 1
    assert "cannot be decrypted" in ticket.reason and "re-enter it" in ticket.reason
    assert tickets_with_key(bms_sandbox.control, ticket.dedupe_key) == []
    # The e-mail goes out all the same (its PDF from a source that needs no BMS password).
    assert email.status == DeliveryStatus.SENT, email.errors


def test_hardening_1_attempts_that_end_without_a_result_never_exceed_the_maximum(ticket_settings, settings):
    """Input: every attempt dies before recording anything (a killed worker) and its lease
    runs out. Before: each lease expiry claimed it again, attempts climbed past the maximum
    and the row never said why."""
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    set_preferences(email=False, ticket=True)
    notification = notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org_with("poc"))
    delivery = notification.deliveries.get(channel=Channel.TICKET)
    settings.NOTIFICATIONS_CHANNELS = ticket_channel_setting(DiesWhileSending)

    for _ in range(6):  # the sweep finds the lease run out and queues it again, six times
        with contextlib.suppress(SimulatedCrash):
            delivery_attempt(delivery.pk)
        Delivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3
    assert delivery.reason == (
        "Gave up after 3 attempts: Attempt 3 ended without a result (its worker stopped or its lease ran out)."
    )
    assert [e["attempt"] for e in delivery.errors] == [1, 2, 3]


# --- item 2: forged ticket markers ---------------------------------------------------------------


def test_hardening_2_a_comment_quoting_a_marker_cannot_make_a_retry_adopt_its_ticket(
    ticket_settings, bms_sandbox, client_user
):
    """Input: a client knows a notification's id (the e-mail's X-Portal-Ref header) and
    comments on an invoice with that notification's ticket marker in every spelling. Before:
    the comment's ticket carried the marker verbatim and the notification's retry adopted it."""
    set_preferences(email=False, ticket=True)
    org = org_with("poc")
    invoice = org.invoices.order_by("-invoice_date").first()
    victim = notification_fire(
        NotificationKind.PAYMENT_FAILED, organization=org, invoice=invoice, context={"reason": "Card declined"}
    ).deliveries.get(channel=Channel.TICKET)
    # Its first attempt meets a 503 before BMS creates anything, so its retry will look for its ticket.
    bms_sandbox.control.set_faults(error_rate=1.0, paths=["/v2/servicedesk/tickets"])
    assert delivery_attempt(victim.pk).status == "retrying"
    bms_sandbox.control.clear_faults()

    key = victim.dedupe_key
    forged = "\n".join(
        [
            "Please see:",
            f"[portal-ref:{key}]",  # the marker as it was
            f"[portal-ref:{key}:{'0' * markers.SIGNATURE_LENGTH}]",  # a guess at a signed one
            f"[PORTAL-REF:{key}]",
            f"[ portal-ref : {key}]",
            f"\uff3bportal-ref\uff1a{key}\uff3d",  # full-width brackets and colon
        ]
    )
    comment, _ = invoice_comment_create(invoice=invoice, author=client_user, body=forged)
    commented = deliver_all(comment_posted_notify(comment=comment))[Channel.TICKET]
    assert commented.status == DeliveryStatus.SENT, commented.errors

    # The victim's retry looks for its ticket, does not take the comment's, and opens its own.
    assert delivery_attempt(victim.pk).status == "sent"
    victim.refresh_from_db()
    assert not victim.adopted and victim.bms_ticket_id != commented.bms_ticket_id
    [victim_ticket] = tickets_with_key(bms_sandbox.control, key)
    assert victim_ticket["id"] == victim.bms_ticket_id and victim.marker in victim_ticket["details"]
    # The comment is in its ticket, quoted harmlessly: the only marker there is the ticket's own.
    [comment_ticket] = [t for t in bms_sandbox.control.records("tickets") if t["id"] == commented.bms_ticket_id]
    details = comment_ticket["details"]
    assert "Please see:" in details and key in details
    assert details.lower().count("portal-ref") == 6
    assert re.findall(r"\[portal-ref:[^\]]*\]", details) == [commented.marker]


def test_hardening_2_the_marker_is_signed_defined_once_and_old_markers_are_adopted_only_by_old_deliveries(
    ticket_settings, bms_sandbox, settings
):
    """Input: a ticket carrying the unsigned marker ``[portal-ref:<key>]`` (as an earlier
    version wrote it, or as a client could type it). Before: any retry adopted it."""
    set_preferences(email=False, ticket=True)
    org, other = org_with("poc"), org_with("recipient")

    def retrying_delivery(**fields) -> Delivery:
        notification = notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org)
        delivery = notification.deliveries.get(channel=Channel.TICKET)
        # As if a first attempt had run and lost BMS's answer: the next one looks before it creates.
        Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.RETRYING, attempts=1, **fields)
        delivery.refresh_from_db()
        return delivery

    def ticket_with(details: str, account) -> dict:
        return bms_sandbox.control.mutate("ticket.create", accountId=account.bms_id, details=details)["record"]

    # A delivery created since the upgrade never adopts an unsigned marker...
    new = retrying_delivery()
    ticket_with(f"Typed by someone\n\n[portal-ref:{new.dedupe_key}]", org)
    assert delivery_attempt(new.pk).status == "sent"
    new.refresh_from_db()
    assert not new.adopted
    # ...and the marker it writes is the signed one, the same wherever it is built.
    assert new.marker == markers.ticket_marker(new.dedupe_key)
    assert re.fullmatch(rf"\[portal-ref:{re.escape(new.dedupe_key)}:[0-9a-f]{{32}}\]", new.marker)
    details = rendering.ticket_details(new.notification, new.dedupe_key)
    assert details.endswith("\n\n" + new.marker) and details.count("[portal-ref:") == 1
    signed = new.marker
    settings.SECRET_KEY = "another-secret-key-for-this-test-only"
    assert markers.ticket_marker(new.dedupe_key) != signed  # it depends on SECRET_KEY

    # A delivery from before the upgrade adopts the unsigned marker it wrote, on its account...
    old = retrying_delivery(accepts_unsigned_marker=True)
    written = ticket_with(f"An earlier version\n\n[portal-ref:{old.dedupe_key}]", org)
    assert delivery_attempt(old.pk).status == "adopted"
    old.refresh_from_db()
    assert old.bms_ticket_id == written["id"]
    # ...but not one on another account.
    old_elsewhere = retrying_delivery(accepts_unsigned_marker=True)
    ticket_with(f"Elsewhere\n\n[portal-ref:{old_elsewhere.dedupe_key}]", other)
    assert delivery_attempt(old_elsewhere.pk).status == "sent"
    old_elsewhere.refresh_from_db()
    assert not old_elsewhere.adopted


def test_ticket_opened_before_a_secret_key_rotation_is_still_found(ticket_settings, bms_sandbox, settings):
    set_preferences(email=False, ticket=True)
    org = org_with("poc")
    delivery = notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=org).deliveries.get(
        channel=Channel.TICKET
    )
    written = bms_sandbox.control.mutate(
        "ticket.create", accountId=org.bms_id, details=f"Before the rotation\n\n{delivery.marker}"
    )["record"]
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.RETRYING, attempts=1)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-secret-key-after-rotation"
    assert delivery_attempt(delivery.pk).status == "adopted"
    delivery.refresh_from_db()
    assert delivery.bms_ticket_id == written["id"]
